"""Re-scoring run folders without retraining: a run's own back end reproduces its scores bit for
bit, every applicable back end writes a complete run folder, a missing file is refused."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from asdlab.analysis.backends import backend_table
from asdlab.artifacts.embeddings import load_embeddings
from asdlab.artifacts.residuals import load_residuals
from asdlab.backends import get_backend
from asdlab.cli import main
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.data.synth import generate_dataset
from asdlab.methods.gram_mfn import build_model, class_scores
from asdlab.runs import RunExistsError, applicable_backends, default_backend, load_run, rescore, run_method

MACHINES = ["ToyCar", "gearbox"]  # attributes in the names / hidden


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("rescore")
    data = generate_dataset(root / "data", preset="smoke", machines=MACHINES, progress=False)
    out = {}
    for name, overrides in [("ae_mse", {}), ("ae_mahala", {}), ("tastgram_noisy_arcmix", {"epochs": 1}),
                            ("tastgram_linear_ce", {"epochs": 1, "backend": "logsoftmax"})]:
        out[name] = run_method(name, data, root / name, preset="smoke", overrides=overrides,
                               cache_dir=root / "cache", progress=False, device="cpu")
    return out


@pytest.mark.parametrize("method,backend", [("ae_mse", "mse"), ("ae_mahala", "mahalanobis"),
                                            ("tastgram_noisy_arcmix", "kmeans"),
                                            ("tastgram_linear_ce", "class_posterior")])
def test_the_run_own_backend_reproduces_its_scores_bit_for_bit(runs, tmp_path, method, backend):
    src = runs[method]
    config = json.loads((src / "config.json").read_text())
    assert default_backend(config)[0] == backend
    out = rescore(src, backend, tmp_path / "again")
    for f in ("scores.csv", "train_scores.csv", "metrics.csv", "table.csv"):
        assert (out / f).read_bytes() == (src / f).read_bytes(), f
    for f in sorted((src / "submission").iterdir()):
        assert (out / "submission" / f.name).read_bytes() == f.read_bytes()
    assert load_run(out)["summary"] == load_run(src)["summary"]


def test_class_posterior_from_the_saved_arrays_equals_the_model_head(runs):
    src = runs["tastgram_noisy_arcmix"]
    p = json.loads((src / "config.json").read_text())["params"]
    e = load_embeddings(src)
    model = build_model(p, len(e["classes"]))
    model.load_state_dict(torch.load(src / "checkpoints" / "model.pt"))
    meta, emb = e["meta"], e["embeddings"]
    tr = (meta["split"] == "train").to_numpy()
    scorer = get_backend("class_posterior", s=p["s"], m=p["m"], centers=e["centers"]).fit(emb[tr], meta[tr])
    idx = meta["class_index"].to_numpy()
    none = [np.array([], np.int64)] * int((~tr).sum())
    np.testing.assert_array_equal(scorer.score(emb[~tr], meta[~tr]), class_scores(model, emb[~tr], idx[~tr], p, none))
    cos = {**p, "backend": "cosine"}
    np.testing.assert_array_equal(get_backend("cosine_center", centers=e["centers"]).fit(emb[tr], meta[tr]).score(
        emb[~tr], meta[~tr]), class_scores(model, emb[~tr], idx[~tr], cos, none))


def test_a_linear_ce_run_keeps_its_linear_head_and_is_rescored_from_it(runs, tmp_path):
    src = runs["tastgram_linear_ce"]
    p = json.loads((src / "config.json").read_text())["params"]
    e = load_embeddings(src)
    model = build_model(p, len(e["classes"]))
    model.load_state_dict(torch.load(src / "checkpoints" / "model.pt"))
    with np.load(src / "linear_head.npz") as f:
        weight, bias = f["weight"], f["bias"]
    np.testing.assert_array_equal(weight, model.head.weight.detach().numpy())
    np.testing.assert_array_equal(bias, model.head.bias.detach().numpy())
    np.testing.assert_allclose(e["centers"], weight / np.linalg.norm(weight, axis=1, keepdims=True), rtol=1e-6)
    meta, emb = e["meta"], e["embeddings"]
    te = (meta["split"] == "test").to_numpy()
    none = [np.array([], np.int64)] * int(te.sum())
    scores = pd.read_csv(src / "scores.csv").set_index("file").loc[meta["file"][te], "score"].to_numpy()
    np.testing.assert_allclose(class_scores(model, emb[te], meta["class_index"].to_numpy()[te], p, none), scores,
                               rtol=1e-6)
    # the rescored folder keeps the linear head, so it can be rescored in turn; the cosine reading of
    # the same run is one parameter away
    out = rescore(src, "knn", tmp_path / "knn")
    assert (out / "linear_head.npz").read_bytes() == (src / "linear_head.npz").read_bytes()
    assert (rescore(out, "class_posterior", tmp_path / "back") / "scores.csv").read_bytes() == \
        (src / "scores.csv").read_bytes()
    cos = rescore(src, "class_posterior", tmp_path / "cos", params={"head": "cosine"})
    assert json.loads((cos / "config.json").read_text())["backend_params"] == {"s": 30.0, "m": 0.0, "head": "cosine"}
    assert (cos / "scores.csv").read_bytes() != (src / "scores.csv").read_bytes()
    old = tmp_path / "old"
    shutil.copytree(src, old)
    (old / "linear_head.npz").unlink()
    (old / "manifest.json").unlink()  # a run made before heads (and manifests) were kept
    with pytest.raises(AsdlabError, match=rf"^{old}: back end 'class_posterior' needs linear_head.npz, which "
                                          "this run folder lacks$"):
        rescore(old, "class_posterior", tmp_path / "z", params={"head": "linear"})


def test_ae_runs_save_residual_statistics_of_every_clip_and_training_group(runs):
    r = load_residuals(runs["ae_mse"])
    emb = load_embeddings(runs["ae_mse"])
    pd.testing.assert_frame_equal(r["meta"], emb["meta"])
    assert r["mean"].shape == (len(r["meta"]), 128) and r["mean"].dtype == np.float32
    train = pd.concat([pd.read_csv(runs["ae_mse"] / "train_scores.csv"), pd.read_csv(runs["ae_mse"] / "scores.csv")])
    merged = r["meta"].assign(mse=r["mse"]).merge(train, on="file")
    np.testing.assert_array_equal(merged["mse"], merged["score"])  # the saved MSE is the ae_mse score
    assert sorted(r["stats"]) == [(m, "00", d) for m in MACHINES for d in ("source", "target")]
    count, total, scatter = r["stats"][("gearbox", "00", "target")]
    assert count > 0 and total.shape == (128,) and scatter.shape == (128, 128)
    np.testing.assert_allclose(scatter, scatter.T)


def test_a_rescored_folder_is_complete_and_names_its_source(runs, tmp_path):
    out = rescore(runs["tastgram_noisy_arcmix"], "knn", tmp_path / "knn", params={"k": 2})
    for f in ["config.json", "scores.csv", "train_scores.csv", "metrics.csv", "table.csv", "summary.json",
              "embeddings.npy", "embeddings.csv", "centers.npy", "classes.csv",
              "submission/anomaly_score_ToyCar_section_00_test.csv",
              "submission/decision_result_gearbox_section_00_test.csv"]:
        assert (out / f).is_file(), f
    assert not (tmp_path / "knn.partial").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["rescored_from"] == str(runs["tastgram_noisy_arcmix"].resolve())
    assert (config["backend"], config["backend_params"], config["decisions"]) == ("knn", {"k": 2}, "gamma")
    assert config["method"] == "tastgram_noisy_arcmix"
    run = load_run(out)
    src = load_run(runs["tastgram_noisy_arcmix"])
    assert list(run["scores"]["file"]) == list(src["scores"]["file"])
    assert not np.array_equal(run["scores"]["score"], src["scores"]["score"])
    # the rescored folder can itself be rescored
    again = rescore(out, "kmeans", tmp_path / "back")
    assert (again / "scores.csv").read_bytes() == (runs["tastgram_noisy_arcmix"] / "scores.csv").read_bytes()


def test_an_existing_output_is_reused_refused_or_forced(runs, tmp_path):
    src = runs["ae_mse"]
    out = rescore(src, "mse", tmp_path / "r")
    stamp = (out / "scores.csv").stat().st_mtime_ns
    assert rescore(src, "mse", tmp_path / "r") == out and (out / "scores.csv").stat().st_mtime_ns == stamp
    with pytest.raises(RunExistsError, match="different configuration"):
        rescore(src, "mahalanobis", out)
    rescore(src, "mahalanobis", out, force=True)
    assert json.loads((out / "config.json").read_text())["backend"] == "mahalanobis"
    with pytest.raises(ConfigError, match="must differ"):
        rescore(src, "mse", src)
    with pytest.raises(ConfigError, match="unknown decision rule 'median'"):
        rescore(src, "mse", tmp_path / "d", decisions="median")


def test_a_backend_whose_file_the_run_lacks_is_refused_naming_both(runs, tmp_path):
    with pytest.raises(AsdlabError, match=rf"^{runs['ae_mse']}: back end 'class_posterior' needs centers.npy, "
                                          "which this run folder lacks$"):
        rescore(runs["ae_mse"], "class_posterior", tmp_path / "x")
    old = tmp_path / "old"
    shutil.copytree(runs["ae_mahala"], old)
    (old / "residuals.npz").unlink()  # a run saved before residual statistics were kept
    (old / "manifest.json").unlink()  # (and before manifests)
    with pytest.raises(AsdlabError, match=rf"^{old}: back end 'mse' needs residuals.npz"):
        rescore(old, "mse", tmp_path / "y")
    with pytest.raises(AsdlabError, match="needs residuals.npz"):
        rescore(old, "mahalanobis", tmp_path / "y", params={"on": "residuals"})
    assert not (tmp_path / "x").exists() and not (tmp_path / "y.partial").exists()
    assert applicable_backends(old) == ["kmeans", "knn", "gmm", "mahalanobis"]


def test_applicable_backends_follow_the_files_of_the_run(runs):
    assert applicable_backends(runs["ae_mse"]) == ["kmeans", "knn", "gmm", "mahalanobis", "mse"]
    assert applicable_backends(runs["tastgram_noisy_arcmix"]) == [
        "class_posterior", "cosine_center", "kmeans", "knn", "gmm", "mahalanobis"]


def test_backend_table_rescores_every_applicable_backend_in_memory(runs):
    src = runs["tastgram_noisy_arcmix"]
    table = backend_table(src)
    assert list(table["backend"]) == applicable_backends(src)
    assert (table["note"] == "").all() and table["official score"].between(0, 1).all()
    own = table[table["run's own"]]
    assert list(own["backend"]) == ["kmeans"]
    assert own["official score"].iloc[0] == load_run(src)["summary"]["official_score"]
    ae = backend_table(runs["ae_mahala"], backends=["mahalanobis", "class_posterior"])
    assert ae["run's own"].tolist() == [True, False]
    assert ae["official score"].iloc[0] == load_run(runs["ae_mahala"])["summary"]["official_score"]
    assert "needs centers.npy" in ae["note"].iloc[1] and np.isnan(ae["official score"].iloc[1])


def test_cli_rescore_and_backends(runs, tmp_path, capsys):
    assert main(["backends"]) == 0
    listed = capsys.readouterr().out
    for name in ["class_posterior", "cosine_center", "kmeans", "knn", "gmm", "mahalanobis", "mse"]:
        assert f"\n{name} " in "\n" + listed
    assert "embeddings or residuals" in listed
    src = str(runs["tastgram_noisy_arcmix"])
    assert main(["rescore", src, "--backend", "kmeans", "--set", "n_clusters=4", "--out", str(tmp_path / "k4")]) == 0
    assert "Official score" in capsys.readouterr().out
    assert json.loads((tmp_path / "k4" / "config.json").read_text())["backend_params"]["n_clusters"] == 4
    for args, message in [(["--backend", "mse"], f"asdlab rescore: error: {src}: back end 'mse' needs residuals.npz"),
                          (["--backend", "knn", "--set", "k=0"], "parameter k=0: expected an integer >= 1"),
                          (["--backend", "nope"], "unknown back end 'nope'")]:
        assert main(["rescore", src, *args, "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()



def test_a_rescored_run_keeps_the_channel_and_precision_of_its_source(runs, tmp_path):
    data = json.loads((runs["ae_mse"] / "config.json").read_text())["data"]
    src = run_method("ae_mse", data, tmp_path / "bf16", preset="smoke", overrides={"epochs": 1}, precision="bf16",
                     cache_dir=tmp_path / "cache", progress=False, device="cpu")
    config = json.loads((rescore(src, "mse", tmp_path / "again") / "config.json").read_text())
    assert config["precision"] == "bf16" and config["channel"] == 0
    old = json.loads((rescore(runs["ae_mse"], "mse", tmp_path / "fp32") / "config.json").read_text())
    assert old["precision"] == "fp32"
