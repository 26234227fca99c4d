"""Parameter schemas: the rules of each kind, every preset of every method passing its schema,
the one-line errors of Method.params, and ``--set`` values refused by the command line."""

from __future__ import annotations

import importlib
import math
import os
from pathlib import Path

import numpy as np
import pytest

from asdlab.cli import _parse_overrides, main
from asdlab.core.errors import ConfigError
from asdlab.methods import REGISTRY, Method, get_method, list_methods, register
from asdlab.core.schema import (Bool, Choice, Dict, Float, Int, List, PathParam, Rule, Schema, Str,
                                   any_of)


def ok(param, value):
    good, out = param.check(value)
    assert good, f"{value!r} refused"
    return out


def bad(param, value):
    assert not param.check(value)[0], f"{value!r} accepted"


# ----------------------------------------------------------------------------------------------
# kinds


def test_int_refuses_bools_floats_and_strings_and_checks_the_range():
    p = Int(1)
    assert ok(p, 3) == 3 and ok(p, np.int64(2)) == 2
    for v in (0, -3, True, 2.0, "3", "abc", None, [1]):
        bad(p, v)
    assert Int(0, 10).describe() == "an integer in [0, 10]" and p.describe() == "an integer >= 1"


def test_float_accepts_ints_unchanged_and_refuses_bools_and_non_finite_values():
    p = Float(0, 1, max_open=True)
    assert ok(p, 0) == 0 and type(ok(p, 0)) is int          # an int stays an int (config unchanged)
    assert ok(p, 0.5) == 0.5
    for v in (1, 1.0, -0.1, True, False, math.nan, math.inf, "0.5", 10**400):
        bad(p, v)
    assert p.describe() == "a number in [0, 1)"
    assert Float(0, min_open=True).describe() == "a number > 0"
    bad(Float(0, min_open=True), 0.0)
    assert ok(Float(), -1e300) == -1e300


def test_bool_choice_str_and_none():
    for v in (1, 0, "true", None):
        bad(Bool(), v)
    assert ok(Bool(), False) is False
    c = Choice("gmm", "cosine")
    assert ok(c, "gmm") == "gmm"
    for v in ("plda", None, 1, True):
        bad(c, v)
    assert c.describe() == "one of 'gmm', 'cosine'"
    m = Choice(None, "smooth", "subtract")                   # None among the choices allows None
    assert ok(m, None) is None and m.describe() == "None or one of 'smooth', 'subtract'"
    n = Int(7, none="the most common length")
    assert ok(n, None) is None and n.describe() == "None (the most common length) or an integer >= 7"
    assert ok(Str(), "") == "" and Choice("silhouette").describe() == "'silhouette'"


def test_lists_accept_a_lone_item_or_a_separated_string_and_are_normalised():
    ks = List(Int(1), min_length=1, scalar=True, normalize=lambda v: sorted(set(v)))
    assert ok(ks, 4) == [4] and ok(ks, [4, 2, 2]) == [2, 4] and ok(ks, (8, 1)) == [1, 8]
    for v in ([], [0], [2, "a"], [True], "4", None):
        bad(ks, v)
    assert ks.describe() == "a non-empty list of integers >= 1 (or one integer >= 1)"
    names = List(Str(), sep=",", none=True, normalize=lambda v: sorted(v or []))
    assert ok(names, "valve, fan") == ["fan", "valve"] and ok(names, None) == [] and ok(names, "") == []
    pair = List(Int(2), length=2)
    assert ok(pair, [2, 3]) == [2, 3]
    for v in ([2, 3, 4], [1, 3], [2]):
        bad(pair, v)
    assert pair.describe() == "a list of 2 integers >= 2"


def test_dicts_any_of_paths_and_extra_tests(tmp_path):
    d = Dict(Choice("one", "two"))
    assert ok(d, {"fan": "one"}) == {"fan": "one"} and ok(d, {}) == {}
    for v in ({"fan": "three"}, "paper", None):
        bad(d, v)
    choice = any_of(Choice("paper", "oracle"), Dict(Choice("one", "two"), doc="a dict {machine: 'one' | 'two'}"))
    assert ok(choice, "paper") == "paper" and ok(choice, {"fan": "two"}) == {"fan": "two"}
    bad(choice, "best")
    assert choice.describe() == "one of 'paper', 'oracle' or a dict {machine: 'one' | 'two'}"
    f = tmp_path / "w.pt"
    f.write_bytes(b"x")
    path = PathParam(none=True, test=os.path.isfile)
    assert ok(path, str(f)) == str(f) and ok(path, f) == f and ok(path, None) is None
    for v in (str(tmp_path / "missing.pt"), 3, ""):
        bad(path, v)


def test_schema_errors_are_one_line_naming_method_parameter_value_and_what_is_allowed():
    schema = Schema({"epochs": Int(1), "p": Float(0, 1), "q": Float(0, 1)},
                    rules=(Rule("q", lambda v: None if v["p"] + v["q"] <= 1 else "p + q exceeds 1"),))
    assert schema.validate({"epochs": 2, "p": 0.5, "q": 0.5}, "m") == {"epochs": 2, "p": 0.5, "q": 0.5}
    for values, message in [({"epochs": "abc", "p": 0, "q": 0},
                             "method m: parameter epochs='abc': expected an integer >= 1"),
                            ({"epochs": -3, "p": 0, "q": 0},
                             "method m: parameter epochs=-3: expected an integer >= 1"),
                            ({"epochs": 1, "p": 0.75, "q": 0.5}, "method m: parameter q=0.5: p + q exceeds 1"),
                            ({"epochs": 1, "p": 0, "q": 0, "r": 1},
                             "method m: parameter 'r' has no schema entry")]:
        with pytest.raises(ConfigError) as err:
            schema.validate(values, "m")
        assert str(err.value).startswith(message) and "\n" not in str(err.value)


# ----------------------------------------------------------------------------------------------
# the registered methods


@pytest.mark.parametrize("method", list_methods(), ids=lambda m: m.name)
def test_every_preset_has_exactly_the_schema_parameters_and_passes_it(method):
    for preset, values in method.presets.items():
        assert set(values) == set(method.schema.params), f"{method.name} {preset}"
        checked = method.params(preset)
        assert list(checked) == list(values)


def test_registering_a_preset_that_breaks_its_schema_is_refused():
    presets = {name: {"epochs": 1} for name in ("smoke", "course", "paper")}
    schema = Schema({"epochs": Int(1)})
    with pytest.raises(ValueError, match=r"preset course and the schema differ: parameters without a schema "
                                         r"entry \['lr'\]"):
        register(Method("_bad", "", {**presets, "course": {"epochs": 1, "lr": 1e-3}}, print, schema))
    with pytest.raises(ConfigError, match=r"method _bad \(preset paper\): parameter epochs=0"):
        register(Method("_bad", "", {**presets, "paper": {"epochs": 0}}, print, schema))
    assert "_bad" not in REGISTRY


@pytest.mark.parametrize("name, overrides, key, expected", [
    ("sc_adacos", {"ks": 4}, "ks", [4]),
    ("sc_adacos", {"ks": [16, 2, 2]}, "ks", [2, 16]),
    ("sc_adacos", {"tmax_machines": "valve,fan"}, "tmax_machines", ["fan", "valve"]),
    ("sc_adacos", {"tmax_machines": None}, "tmax_machines", []),
    ("sc_adacos", {"snapshot_every": None}, "snapshot_every", None),
    ("sc_adacos", {"head_choice": {"fan": "one"}}, "head_choice", {"fan": "one"}),
    ("guided_clustering", {"n_pseudo": 3}, "n_pseudo", 3),
    ("guided_clustering", {"n_pseudo_range": (3, 5)}, "n_pseudo_range", [3, 5]),
    ("guided_clustering", {"scorer_overrides": {"ks": [4]}}, "scorer_overrides", {"ks": [4]}),
    ("sc_noisy_arcmix", {"eval_seconds": None, "lr": 1}, "eval_seconds", None),
    ("contrastive_ae_cnn", {"median_filter": None, "segment_frames": None}, "median_filter", None),
])
def test_method_params_normalise_good_values(name, overrides, key, expected):
    assert get_method(name).params("smoke", overrides)[key] == expected


@pytest.mark.parametrize("name, overrides, message", [
    ("ae_mse", {"epochs": "abc"}, "parameter epochs='abc': expected an integer >= 1"),
    ("ae_mahala", {"ridge": -1.0}, "parameter ridge=-1.0: expected a number >= 0"),
    ("tastgram_ce", {"backend": "mahalanobis"}, "backend='mahalanobis': expected one of 'logsoftmax', 'cosine'"),
    ("stgram_arcface", {"loss": "triplet"}, "loss='triplet': expected one of 'ce', 'arcface'"),
    ("sc_adacos", {"backend": "plda"}, "backend='plda': expected one of 'kmeans', 'gmm', 'cosine'"),
    ("sc_adacos", {"ks": [0, 2]}, r"ks=\[0, 2\]: expected a non-empty list of integers >= 1"),
    ("sc_adacos", {"head_choice": "best"}, "head_choice='best': expected one of 'paper', 'oracle' or a dict"),
    ("sc_adacos", {"frames": 5}, r"frames=5: expected None \(.*\) or an integer >= 7"),
    ("sc_adacos", {"threshold_q": 101}, r"threshold_q=101: expected a number in \[0, 100\]"),
    ("sc_noisy_arcmix", {"mixup_p": 0.8}, r"manifold_p=0.25: mixup_p \+ manifold_p = 1.05 exceeds 1"),
    ("sc_noisy_arcmix", {"checkpoint": "/nowhere/ced_base.pt"}, "checkpoint='/nowhere/ced_base.pt': expected None "
                                                                  r"\(train from scratch\) or the path of an existing"),
    ("sc_noisy_arcmix", {"featex": 1}, "featex=1: expected true or false"),
    ("contrastive_ae_cnn", {"segment_frames": 3}, "segment_frames=3: must be None .* at least ae_frames=5"),
    ("contrastive_ae_cnn", {"batch_size": 1}, r"batch_size=1: expected an integer >= 2 \(the contrastive loss"),
    ("contrastive_ae_cnn", {"median_filter": "mean"}, "median_filter='mean': expected None .* 'smooth', 'subtract'"),
    ("contrastive_ae_cnn", {"target_fraction": 1.5}, r"target_fraction=1.5: expected None .* in \[0, 1\]"),
    ("guided_clustering", {"n_pseudo": "gap"}, "n_pseudo='gap': expected an integer >= 1 or 'silhouette'"),
    ("guided_clustering", {"n_pseudo_range": [5, 3]}, r"n_pseudo_range=\[5, 3\]: expected \[lo, hi\] with lo <= hi"),
    ("guided_clustering", {"pair_eps": 0.0}, "pair_eps=0.0: expected a number > 0"),
    ("guided_clustering", {"scorer_preset": "big"}, "scorer_preset='big': expected one of 'smoke', 'course', 'paper'"),
    ("guided_clustering", {"scorer_overrides": {"depth": 3}}, "scorer_overrides=.*sc_adacos' has no parameter 'depth'"),
    ("guided_clustering", {"scorer_overrides": {"ks": []}}, "scorer_overrides=.*method sc_adacos: parameter ks=\\[\\]"),
])
def test_method_params_refuse_bad_values_in_one_line(name, overrides, message):
    with pytest.raises(ConfigError, match=rf"^method {name}: .*{message}") as err:
        get_method(name).params("smoke", overrides)
    assert "\n" not in str(err.value)


ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted(p.stem for p in (ROOT / "asdlab" / "methods").glob("*.py")
                 if p.name not in {"__init__.py", "pipeline.py", "registry.py", "schema.py"})


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_has_a_doc_that_names_each_parameter(recipe):
    module = importlib.import_module(f"asdlab.methods.{recipe}")
    doc = ROOT / "docs" / "methods" / f"{recipe}.md"
    assert doc.is_file() and f"docs/methods/{recipe}.md" in module.__doc__
    text = doc.read_text()
    missing = [k for k in module.SCHEMA.params if f"`{k}`" not in text]
    assert not missing, f"{doc.name} does not name {missing}"


# ----------------------------------------------------------------------------------------------
# the command line


def test_set_values_are_json_or_python_literals_or_strings():
    assert _parse_overrides(["epochs=5", "lr=1e-4", "ks=[2,4]", "frames=None", "featex=False", "mixup=true",
                             "tmax_machines=valve,fan", "epochs2=abc"]) == \
        {"epochs": 5, "lr": 1e-4, "ks": [2, 4], "frames": None, "featex": False, "mixup": True,
         "tmax_machines": "valve,fan", "epochs2": "abc"}


@pytest.mark.parametrize("value", ["abc", "-3", "2.5", "true"])
def test_a_bad_set_value_exits_2_with_one_line_before_any_work(value, tmp_path, capsys):
    code = main(["run", "ae_mse", "--data", str(tmp_path / "no-data"), "--out", str(tmp_path / "run"),
                 "--preset", "smoke", "--set", f"epochs={value}", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("asdlab run: error: method ae_mse: parameter epochs=") and "expected an integer >= 1" in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def _bad_values(rule) -> list:
    """Values ``rule`` must refuse: a word where it takes no string, and, for a number with a
    lower bound, one below it."""
    bad = [] if rule.kind in ("str", "path", "list") or (rule.kind == "any_of" and any(
        o.kind in ("str", "path", "list") for o in rule.options)) else ["abc"]
    if rule.kind in ("int", "float") and rule.min is not None and rule.choices is None:
        bad.append(rule.min - 1 if rule.kind == "int" else rule.min - 0.5)
    return bad


def test_every_preset_key_of_every_method_checks_its_type_and_range():
    """Issue 16: ``--set epochs=abc`` / ``epochs=-3`` style values are one line for every key of
    every method: the message names the method, the key, the value and what is allowed."""
    checked = 0
    for m in list_methods():
        for key, rule in m.schema.params.items():
            if rule.kind in ("int", "float"):
                assert rule.min is not None or rule.choices is not None, f"{m.name}.{key}: no lower bound"
            for value in _bad_values(rule):
                with pytest.raises(ConfigError) as info:
                    m.params("smoke", {key: value})
                assert str(info.value).startswith(f"method {m.name}: parameter {key}={value!r}: expected "), \
                    str(info.value)
                assert "\n" not in str(info.value)
                checked += 1
    assert checked > 100


def test_check_seed_and_check_out_folder(tmp_path):
    from asdlab.core.schema import SEED_MAX, check_out_folder, check_seed

    assert check_seed(0) == 0 and check_seed(SEED_MAX) == SEED_MAX
    for bad in (-1, SEED_MAX + 1, True, 1.0, "3"):
        with pytest.raises(ConfigError, match=rf"^seed={bad!r}: expected an integer in \[0, 4294967295\]$"):
            check_seed(bad)
    afile = tmp_path / "f"
    afile.write_text("")
    check_out_folder(tmp_path / "new" / "deeper", "run folder")  # creatable: fine, nothing made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
    with pytest.raises(ConfigError, match=f"^run folder {afile}: is a file, not a folder; give a folder path$"):
        check_out_folder(afile, "run folder")
    with pytest.raises(ConfigError, match=f"^report folder {afile}/a/b: {afile} is a file, not a folder"):
        check_out_folder(afile / "a" / "b", "report folder")
