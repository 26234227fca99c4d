import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

import asdlab.nn.margins as margins
from asdlab.artifacts.embeddings import save_embeddings
from asdlab.core.errors import ConfigError
from asdlab.analysis import angle_summary_by_domain
from asdlab.viz.explorer import (AngleExplorer, check_figure1_params,
                             explorer_data, explorer_histograms, loss_title, sphere_figure)
from asdlab.analysis.toyhead import fit_head
from asdlab.viz.figure_widgets import BUNDLE, AutosizeFigureWidget, SharedFigureWidget, widget_esm

STEPS = 60


def _planted(n_per_class=20, n_classes=10, d=16, noise=0.25, seed=0):
    """``n_classes`` well-separated clusters in ``d`` dims (orthogonal means of length 3, the
    same for every ``seed``; ``seed`` draws the clips)."""
    means = 3.0 * np.linalg.qr(np.random.default_rng(99).normal(size=(d, d)))[0][:n_classes]
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    return means[y] + noise * rng.normal(size=(len(y), d)), y


def test_fit_head_on_a_planted_problem_reaches_small_angles():
    x, y = _planted()
    fit = fit_head(x, y, loss="arcface", dim=3, steps=STEPS)
    assert fit.points.shape == (200, 3) and fit.centers.shape == (10, 3) and fit.history.shape == (STEPS,)
    np.testing.assert_allclose(np.linalg.norm(fit.points, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(fit.centers, axis=1), 1.0, atol=1e-6)
    assert np.median(fit.angles) < 10.0 and fit.history[-5:].mean() < 0.2 * fit.history[:5].mean()
    # every clip is nearest to its own center, and new clips from the clusters land there too
    assert (np.argmax(fit.points @ fit.centers.T, axis=1) == y).all()
    x_new, y_new = _planted(n_per_class=5, seed=1)
    assert np.median(fit.angles_to_centers(x_new, y_new)) < 15.0
    np.testing.assert_allclose(fit.angles_to_centers(x, y), fit.angles, atol=1e-4)


def test_the_margin_pulls_clips_towards_their_center():
    x, y = _planted(noise=1.0)
    without = fit_head(x, y, loss="arcface", m=0.0, s=16.0, dim=3, steps=STEPS)
    with_margin = fit_head(x, y, loss="arcface", m=0.5, s=16.0, dim=3, steps=STEPS)
    assert np.median(with_margin.angles) < 0.7 * np.median(without.angles)
    # without a margin ArcFace is CE on s * cosine: the same training, step by step
    ce = fit_head(x, y, loss="ce", m=0.5, s=16.0, dim=3, steps=STEPS)
    np.testing.assert_allclose(ce.history, without.history, rtol=1e-5)
    np.testing.assert_allclose(ce.points, without.points, atol=1e-5)


@pytest.mark.parametrize("loss, mixed", [("ce", False), ("arcface", False), ("arcmix", True),
                                         ("noisy_arcmix", True)])
def test_the_chosen_loss_is_called_with_its_settings(monkeypatch, loss, mixed):
    calls = []
    original = margins.LOSSES[loss]

    def spy(head, emb, y_a, y_b, lam, s, m):
        calls.append((emb.shape, lam, s, m, bool((y_a != y_b).any())))
        return original(head, emb, y_a, y_b, lam, s=s, m=m)

    monkeypatch.setitem(margins.LOSSES, loss, spy)
    x, y = _planted(n_per_class=3)
    fit_head(x, y, loss=loss, m=0.3, s=12.0, alpha=0.5, dim=3, steps=20, batch_size=16)
    assert len(calls) == 20
    assert {c[0] for c in calls} == {torch.Size([16, 3])} and {c[2:4] for c in calls} == {(12.0, 0.3)}
    lams = np.array([c[1] for c in calls])
    if mixed:  # Beta(0.5, 0.5) lambdas and permuted partners with other classes
        assert ((lams > 0) & (lams < 1)).all() and len(set(lams)) == 20 and any(c[4] for c in calls)
    else:
        assert (lams == 1.0).all() and not any(c[4] for c in calls)
    calls.clear()
    fit_head(x, y, loss=loss, alpha=0.0, steps=3)  # alpha 0: no mixup for any loss
    assert [c[1] for c in calls] == [1.0] * 3


def test_fit_head_is_seeded_and_leaves_the_global_rng_alone():
    x, y = _planted(n_per_class=20)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    torch.manual_seed(123)
    a = fit_head(x, y, loss="noisy_arcmix", steps=20, seed=5)
    after = torch.rand(3)
    torch.manual_seed(123)
    expected = torch.rand(3)
    b = fit_head(x, y, loss="noisy_arcmix", steps=20, seed=5)
    c = fit_head(x, y, loss="noisy_arcmix", steps=20, seed=6)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.history, b.history)
    assert not np.allclose(a.points, c.points)
    assert torch.equal(after, expected)
    assert torch.get_num_threads() == 2  # restored after the one-thread fit
    torch.set_num_threads(threads)


@pytest.mark.parametrize("kwargs, match", [(dict(loss="cosface"), "loss='cosface'"), (dict(m=2.0), "m=2.0"),
                                           (dict(s=0.0), "s=0.0"), (dict(alpha=-1.0), "alpha=-1.0"),
                                           (dict(dim=1), "dim=1"), (dict(steps=0), "steps=0")])
def test_fit_head_rejects_bad_settings(kwargs, match):
    x, y = _planted(n_per_class=3)
    with pytest.raises(ConfigError, match=match):
        fit_head(x, y, **kwargs)
    with pytest.raises(ConfigError, match="class_index"):
        fit_head(x, -y)


def test_sphere_figure_draws_unit_points_centers_and_rays():
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0, 0], [0, 0, 3.0]])
    points, train = rng.normal(size=(10, 3)), rng.normal(size=(6, 3))
    labels = np.array(["normal"] * 7 + ["anomaly"] * 3)
    fig = sphere_figure(centers, points, np.arange(10) % 2, labels, ["a", "b"], train, np.zeros(6, int))
    assert [type(t).__name__ for t in fig.data] == ["Surface"] + ["Scatter3d"] * 5
    assert [t.name for t in fig.data[1:5]] == ["train clips (class color)", "test normal", "test anomaly",
                                               "class centers"]
    for trace, n in zip(fig.data[1:5], [6, 7, 3, 2]):
        xyz = np.stack([trace.x, trace.y, trace.z], axis=1)
        assert len(xyz) == n
        np.testing.assert_allclose(np.linalg.norm(xyz, axis=1), 1.0)
    np.testing.assert_allclose(fig.data[4].z, [0.0, 1.0])
    assert list(fig.data[4].text) == ["a", "b"] and list(fig.data[3].text) == ["b", "a", "b"]
    rays = fig.data[5]
    np.testing.assert_allclose(np.array(rays.x, float), [0, 1.25, np.nan, 0, 0, np.nan])
    # only class 1's center; a circle in 2-D
    fig = sphere_figure(centers, points, np.arange(10) % 2, labels, show_classes=[1])
    assert list(fig.data[4].text) == ["class 1"]
    flat = sphere_figure(centers[:, :2] + [0, 1], points[:, :2], np.arange(10) % 2, labels)
    assert [type(t).__name__ for t in flat.data] == ["Scatter"] * 6
    # 3-D markers are text glyphs: "x" is an emoji (an empty box without an emoji font)
    assert fig.data[3].marker.symbol == "cross" and flat.data[3].marker.symbol == "x"
    np.testing.assert_allclose(np.hypot(flat.data[2].x, flat.data[2].y), 1.0)
    with pytest.raises(ConfigError, match="2-d or 3-d"):
        sphere_figure(rng.normal(size=(2, 4)), rng.normal(size=(3, 4)), [0, 1, 0], labels[:3])


def test_explorer_histograms_shares_medians_and_loss_curve():
    table = pd.DataFrame({"label": ["normal"] * 4 + ["anomaly"] * 2, "angle": [1.0, 2.0, 3.0, 11.0, 20.0, 40.0]})
    fig = explorer_histograms(table, history=[3.0, 2.0, 1.0], train_angles=[0.5, 1.5], bin_deg=5.0, title="t")
    assert [t.name for t in fig.data] == ["test normal (4, median 2.5 deg)", "test anomaly (2, median 30.0 deg)",
                                          "train normal (2, median 1.0 deg)", "loss"]
    np.testing.assert_allclose(fig.data[0].y[:3], [0.75, 0.0, 0.25])
    np.testing.assert_allclose(fig.data[1].y[4], 0.5)
    assert fig.data[2].y[0] == 1.0 and list(fig.data[3].y) == [3.0, 2.0, 1.0]
    assert fig.layout.xaxis.range[1] >= 40.0


def test_summary_by_domain_and_notebook_params():
    t = pd.DataFrame({"domain": ["source"] * 4 + ["target"] * 4,
                      "label": ["normal", "normal", "anomaly", "anomaly"] * 2,
                      "angle": [1.0, 3.0, 10.0, 20.0, 5.0, 7.0, 6.0, 8.0]})
    s = angle_summary_by_domain({"ArcFace": t})
    assert list(s.index) == [("all", "ArcFace"), ("source", "ArcFace"), ("target", "ArcFace")]
    assert s.loc[("source", "ArcFace"), "separation_deg"] == 13.0
    assert s.loc[("target", "ArcFace"), "angle_auc"] == 0.75  # 3 of 4 (normal, anomaly) pairs in order
    assert check_figure1_params(["tastgram_arcface"], "tastgram_ce") == ["tastgram_arcface", "tastgram_ce"]
    assert check_figure1_params(["tastgram_ce"], "tastgram_ce") == ["tastgram_ce"]
    with pytest.raises(ConfigError, match="'ae_mse' not among"):
        check_figure1_params(["ae_mse"], "tastgram_ce")
    with pytest.raises(ConfigError, match="non-empty list"):
        check_figure1_params([], "tastgram_ce")
    with pytest.raises(ConfigError, match="explorer_run='ae_mse'.*no class"):
        check_figure1_params(["tastgram_ce"], "ae_mse")
    assert loss_title("tastgram_noisy_arcmix") == "Noisy-ArcMix" and loss_title("stgram_arcface") == "stgram_arcface"


def _tiny_run(folder, seed=0):
    """A run folder with 16-d embeddings: fan (classes 0-4) and valve (5-7), 15 training clips
    per class, 4 normal + 4 anomalous test clips per class, one test clip of unknown class."""
    x, y = _planted(n_per_class=23, n_classes=8, noise=0.6, seed=seed)
    names = [f"fan/00/{c}" for c in "abcde"] + [f"valve/00/{c}" for c in "abc"]
    rows = []
    for i, k in enumerate(y):
        j = i % 23
        split = "train" if j < 15 else "test"
        rows.append(dict(file=f"c{i}.wav", machine=names[k].split("/")[0], section="00",
                         domain="source" if j % 2 else "target", label="normal" if j < 19 else "anomaly",
                         split=split, attributes="", **{"class": names[k]}, class_index=int(k)))
    x[[i for i, r in enumerate(rows) if r["label"] == "anomaly"]] *= -1  # anomalies: away from the class
    rows.append(dict(rows[-1], file="unknown.wav", label=None, domain=None, **{"class": ""}, class_index=-1))
    x = np.vstack([x, x[-1:]])
    save_embeddings(folder, pd.DataFrame(rows), x.astype(np.float32), centers=np.eye(8, 16), classes=names)
    return folder


def test_explorer_data_splits_and_renumbers(tmp_path):
    from asdlab.artifacts.embeddings import load_embeddings

    data = explorer_data(load_embeddings(_tiny_run(tmp_path)))
    assert data["train_x"].shape == (120, 16) and data["test_x"].shape == (64, 16)
    assert data["classes"][:2] == ["fan/00/a", "fan/00/b"] and data["machines"] == ["fan", "valve"]
    assert sorted(set(data["test_y"])) == list(range(8)) and "unknown.wav" not in set(data["test_meta"]["file"])


def _data(widget):
    return [np.array(t.y if t.y is not None else [], float).copy() for t in widget.data]


def test_angle_explorer_callbacks_update_the_figure_widgets(tmp_path):
    ex = AngleExplorer(_tiny_run(tmp_path), steps=STEPS, machine="all")
    box = ex.widget()
    assert isinstance(ex.hist_widget, go.FigureWidget) and isinstance(ex.sphere_widget, go.FigureWidget)
    for wide in (ex.hist_widget, ex.sphere_widget):  # fill the output's width (asdlab.viz.figure_widgets)
        assert isinstance(wide, AutosizeFigureWidget) and wide._config == {"responsive": True}
        assert wide._widget_data and wide._widget_layout  # the first figure is the model's state, not an update
    for fixed in (ex.beta_widget, ex.margin_widget, ex.clip_mel_widget):  # plotly's own view, the shared module
        assert isinstance(fixed, SharedFigureWidget) and not isinstance(fixed, AutosizeFigureWidget)
        assert fixed._widget_data
    assert ex.sphere_widget in box.children and not ex.m_slider.disabled and not ex.alpha_slider.disabled
    assert ex.m_slider.continuous_update is False and "AUC" in ex.status.value
    start_hist, start_sphere = _data(ex.hist_widget), _data(ex.sphere_widget)
    summary = ex.summary().iloc[0]
    assert summary["n_clips"] == 64 and summary["median_anomaly_angle"] > summary["median_normal_angle"]

    ex.m_slider.value = 0.2
    assert ex.settings["m"] == 0.2 and ex.fit.params["m"] == 0.2
    assert any(not np.array_equal(a, b) for a, b in zip(start_sphere, _data(ex.sphere_widget)))
    assert "m 0.20 rad" in ex.hist_widget.layout.title.text
    ex.m_slider.value = 0.7  # same settings -> the same figure again
    for a, b in zip(start_hist + start_sphere, _data(ex.hist_widget) + _data(ex.sphere_widget)):
        np.testing.assert_array_equal(a, b)

    ex.loss_dropdown.value = "ce"
    assert ex.fit.params["loss"] == "ce" and ex.m_slider.disabled and ex.alpha_slider.disabled
    ex.s_slider.value = 8.0
    assert ex.fit.params["s"] == 8.0
    ex.dim_toggle.value = 2
    assert ex.fit.centers.shape == (8, 2)
    assert [type(t).__name__ for t in ex.sphere_widget.data] == ["Scatter"] * 6
    ex.machine_dropdown.value = "valve"  # filter only: no refit
    fit = ex.fit
    assert ex.fit is fit and len(ex.sphere_widget.data[2].x) == 12 and len(ex.sphere_widget.data[4].x) == 3
    assert list(ex.sphere_widget.data[4].text) == ["valve/00/a", "valve/00/b", "valve/00/c"]
    assert ex.summary().iloc[0]["n_clips"] == 24

    hist, sphere = ex.static()
    assert type(hist) is go.Figure and type(sphere) is go.Figure
    assert len(sphere.data[2].x) == 12 and "valve" in hist.layout.title.text
    tables = ex.loss_tables(["ce", "arcface"])
    assert list(tables) == ["CE", "ArcFace"] and len(tables["CE"]) == 64
    with pytest.raises(ConfigError, match="machine='pump'"):
        AngleExplorer(tmp_path, machine="pump")


def _arrays(obj, path=()):
    """Paths of numpy arrays anywhere in a nested dict / list."""
    if isinstance(obj, np.ndarray):
        return [path]
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _arrays(v, path + (k,))]
    if isinstance(obj, (list, tuple)):
        return [p for k, v in enumerate(obj) for p in _arrays(v, path + (k,))]
    return []


def test_explorer_widgets_hold_plain_lists_and_keep_a_rotated_camera(tmp_path):
    """Issue 17: redraws raised ``The truth value of an array ...`` inside plotly's
    ``_remove_overlapping_props`` (numpy arrays in the widget's traces), and a rotated sphere
    snapped back on the next redraw."""
    ex = AngleExplorer(_tiny_run(tmp_path), steps=STEPS)
    ex.widget()
    for widget in (ex.hist_widget, ex.sphere_widget):
        assert [p for t in widget.data for p in _arrays(t._props)] == []
    ex.m_slider.value = 0.3  # a retrain and redraw
    for widget in (ex.hist_widget, ex.sphere_widget):
        props = [t._props for t in widget.data]
        assert [p for t in props for p in _arrays(t)] == []
        # what plotly does with the browser's trace deltas: must not raise on any trace
        for trace in props:
            delta = {k: [{}] for k, v in trace.items()  # a dict-list delta on every 1-d data array
                     if k != "uid" and isinstance(v, (list, tuple, np.ndarray)) and len(v)
                     and np.ndim(v[0]) == 0}
            go.FigureWidget._remove_overlapping_props(dict(trace), delta)
    ex.sphere_widget.layout.scene.camera.eye = dict(x=0.1, y=-2.0, z=0.3)  # the user rotates
    ex.s_slider.value = 20.0  # retrain: same classes drawn
    assert ex.sphere_widget.layout.scene.camera.eye.y == -2.0
    ex.machine_dropdown.value = "valve"  # other classes drawn: the view is computed afresh
    assert ex.sphere_widget.layout.scene.camera.eye.y != -2.0


# ------------------------------------------------------------------ issue 17, item 2: what a researcher asked for

import json  # noqa: E402
import math  # noqa: E402

import soundfile as sf  # noqa: E402
from plotly.callbacks import Points  # noqa: E402
from scipy.stats import beta as beta_law  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from asdlab.analysis.angles import angle_auc_table, ecdf  # noqa: E402
from asdlab.viz.explorer_parts import (KIND_COLORS, MARGIN_RULES, NORMAL_COLOR, SEVERITY_COLORS,  # noqa: E402
                                       beta_density, beta_figure, clip_colors, find_clip, margin_figure,
                                       margin_passes)

KINDS = ("click", "hum")


def _with_data(folder, root, seed=0):
    """:func:`_tiny_run` plus a dataset root it came from: config.json naming ``root``, the
    factory's ground truth (anomaly kind click / hum alternating, severity 0.1 .. 0.9) and a
    short WAV for every test clip under ``root/<machine>/test/``."""
    _tiny_run(folder, seed=seed)
    meta = pd.read_csv(folder / "embeddings.csv", keep_default_na=False)
    test = meta[(meta["split"] == "test") & meta["label"].isin(["normal", "anomaly"])]
    rng = np.random.default_rng(seed)
    for machine, part in test.groupby("machine"):
        (root / machine / "test").mkdir(parents=True, exist_ok=True)
        anomalous = (part["label"] == "anomaly").to_numpy()
        order = np.cumsum(anomalous) - 1
        gt = pd.DataFrame({"file_name": part["file"], "anomaly": np.where(anomalous, np.array(KINDS)[order % 2], ""),
                           "severity": np.where(anomalous, 0.1 + 0.8 * (order % 5) / 4, 0.0), "attributes": ""})
        (root / "ground_truth" / "clips").mkdir(parents=True, exist_ok=True)
        gt.to_csv(root / "ground_truth" / "clips" / f"{machine}.csv", index=False)
        for f in part["file"]:
            sf.write(root / machine / "test" / f, 0.1 * rng.normal(size=4000).astype(np.float32), 16000)
    (folder / "config.json").write_text(json.dumps({"method": "tiny", "data": str(root), "channel": 0}))
    return folder


def test_ecdf_and_the_auc_table_by_machine_and_domain():
    x, y = ecdf([3.0, 1.0, 11.0, 2.0])
    np.testing.assert_allclose(x, [1, 2, 3, 11])
    np.testing.assert_allclose(y, [0.25, 0.5, 0.75, 1.0])
    assert [len(a) for a in ecdf([])] == [0, 0]
    rng = np.random.default_rng(0)
    t = pd.DataFrame({"machine": np.repeat(["fan", "valve"], 20), "domain": np.tile(["source", "target"], 20),
                      "label": np.tile(["normal"] * 3 + ["anomaly"], 10), "angle": rng.uniform(0, 60, 40)})
    t.loc[(t["machine"] == "valve") & (t["domain"] == "target"), "label"] = "normal"  # no anomaly: undefined
    auc = angle_auc_table(t)
    assert list(auc.index) == ["fan", "valve", "all"] and list(auc.columns) == ["all", "source", "target"]
    for m in ("fan", "valve", "all"):
        for d in ("all", "source", "target"):
            part = t[((t["machine"] == m) | (m == "all")) & ((t["domain"] == d) | (d == "all"))]
            y = part["label"] == "anomaly"
            if 0 < y.sum() < len(y):
                assert auc.loc[m, d] == pytest.approx(roc_auc_score(y, part["angle"]))
            else:
                assert np.isnan(auc.loc[m, d])
    assert np.isnan(auc.loc["valve", "target"])


def test_angle_panel_ecdf_view_pinned_outline_and_locked_axis():
    table = pd.DataFrame({"label": ["normal"] * 4 + ["anomaly"] * 2, "angle": [1.0, 2.0, 3.0, 11.0, 20.0, 40.0]})
    fig = explorer_histograms(table, history=[1.0], train_angles=[0.5, 1.5], bin_deg=5.0, view="ecdf")
    assert [type(t).__name__ for t in fig.data] == ["Scatter"] * 4 and fig.data[0].line.shape == "hv"
    np.testing.assert_allclose(fig.data[0].x, [0, 1, 2, 3, 11])
    np.testing.assert_allclose(fig.data[0].y, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(fig.data[1].y, [0, 0.5, 1.0])
    assert list(fig.layout.yaxis.range) == [0, 1.02]
    pinned = {"name": "ArcFace m 0.70", "normal": [6.0, 7.0], "anomaly": [50.0]}
    fig = explorer_histograms(table, bin_deg=5.0, pinned=pinned, x_max=30.0)
    assert [t.name for t in fig.data[4:]] == ["pinned normal (2, median 6.5 deg)", "pinned anomaly (1, median 50.0 deg)"]
    assert fig.data[4].line.dash == "dash" and "pinned ArcFace m 0.70" in fig.layout.title.text
    np.testing.assert_allclose(fig.data[4].y[:2], [0.0, 1.0])  # both pinned normals in the bin [5, 10)
    assert list(fig.layout.xaxis.range) == [0, 30.0]  # locked, although the pinned anomaly lies at 50 deg
    with pytest.raises(ConfigError, match="view='cdf'"):
        explorer_histograms(table, view="cdf")


def test_beta_density_matches_scipy_and_alpha_zero_is_a_spike():
    x = np.array([0.05, 0.3, 0.5, 0.9])
    for a in (0.2, 0.5, 1.0, 2.0):
        np.testing.assert_allclose(beta_density(a, x), beta_law.pdf(x, a, a), rtol=1e-10)
    fig = beta_figure(0.5)
    assert len(fig.data) == 1 and len(fig.data[0].x) == 199
    np.testing.assert_allclose(fig.data[0].y, beta_law.pdf(np.array(fig.data[0].x), 0.5, 0.5), rtol=1e-10)
    assert fig.layout.yaxis.range[1] == pytest.approx(1.08 * beta_law.pdf(0.005, 0.5, 0.5))
    assert beta_figure(0.2).layout.yaxis.range[1] == 5.0  # infinite at 0 and 1: capped
    flat = beta_figure(1.0)
    np.testing.assert_allclose(flat.data[0].y, 1.0)
    spike = beta_figure(0.0)
    assert list(spike.data[0].x) == [1.0, 1.0] and "no mixup" in spike.data[0].name


def test_the_margin_drawing_puts_the_margin_where_the_loss_does():
    m, lam = 0.5, 0.3
    cos = [math.cos(math.radians(t)) for t in (30.0, 20.0, 80.0)]
    shifted = [math.cos(math.radians(t) + m) for t in (30.0, 20.0, 80.0)]
    noisy = margin_passes("noisy_arcmix", m, lam)
    assert len(noisy) == 1 and noisy[0]["margin_on"] == "y_a" and noisy[0]["target"] == [0.3, 0.7, 0.0]
    np.testing.assert_allclose(noisy[0]["used"], [shifted[0], cos[1], cos[2]])
    arcmix = margin_passes("arcmix", m, lam)
    assert [p["margin_on"] for p in arcmix] == ["y_a", "y_b"]
    np.testing.assert_allclose(arcmix[1]["used"], [cos[0], shifted[1], cos[2]])
    assert arcmix[0]["target"] == [0.3, 0.0, 0.0] and arcmix[1]["target"] == [0.0, 0.7, 0.0]
    assert margin_passes("ce", m)[0]["used"] == cos and margin_passes("arcface", m)[0]["margin_on"] == "y_a"
    # near pi the reference's fallback cos - m sin(pi - m) is used, as in asdlab.nn.margins
    far = margin_passes("arcface", 1.0, theta_deg=(170.0, 10.0, 10.0))[0]["used"][0]
    assert far == pytest.approx(math.cos(math.radians(170.0)) - 1.0 * math.sin(math.pi - 1.0))
    fig = margin_figure("arcmix", m, lam)
    assert len(fig.data) == 4 and list(fig.data[1].marker.color) == ["#d62728", "#1f77b4", "#1f77b4"]
    assert list(fig.data[3].marker.color) == ["#1f77b4", "#d62728", "#1f77b4"]
    assert list(fig.data[1].text) == ["target 0.3", "target 0", "target 0"]
    one = margin_figure("noisy_arcmix", m, lam)
    assert len(one.data[2].y) == 0 and list(one.data[1].text) == ["target 0.3", "target 0.7", "target 0"]
    assert set(MARGIN_RULES) == set(margins.LOSSES)


def test_clip_colors_by_anomaly_kind_and_severity():
    t = pd.DataFrame({"label": ["normal", "anomaly", "anomaly", "anomaly", "anomaly"],
                      "anomaly_kind": ["", "hum", "click", "hum", None],
                      "severity": [0.0, 0.25, 0.3, 1.0, np.nan]})
    assert clip_colors(t, "label") == (None, {})
    colors, legend = clip_colors(t, "anomaly_kind")
    assert colors == [NORMAL_COLOR, KIND_COLORS[1], KIND_COLORS[0], KIND_COLORS[1], "#bbbbbb"]
    assert list(legend) == ["click", "hum", "anomaly (no ground truth)"]  # normal: the sphere's own entry
    colors, legend = clip_colors(t.iloc[[0, 1]], "anomaly_kind", kinds=["hum", "click"])  # colors stay put
    assert colors == [NORMAL_COLOR, KIND_COLORS[1]] and list(legend) == ["hum"]
    colors, legend = clip_colors(t, "severity")
    assert colors == [NORMAL_COLOR, SEVERITY_COLORS[0], SEVERITY_COLORS[1], SEVERITY_COLORS[3], "#bbbbbb"]
    assert "severity (0, 0.25]" in legend and "severity (0.5, 0.75]" not in legend
    with pytest.raises(KeyError, match="severity"):
        clip_colors(t.drop(columns="severity"), "severity")


def test_explorer_filters_colors_pins_locks_and_reports_auc(tmp_path):
    run = _with_data(tmp_path / "run", tmp_path / "data")
    ex = AngleExplorer(run, steps=STEPS)
    assert ex.machine == "fan" and ex.domain == "all"  # show: the first machine type, not "all"
    ex.widget()
    assert ex.machine_dropdown.value == "fan" and ex.machine_dropdown.options[-1] == ("all machines", "all")
    assert [v for _, v in ex.domain_dropdown.options] == ["all", "source", "target"]
    assert [v for _, v in ex.color_dropdown.options] == ["label", "anomaly_kind", "severity"]
    assert ex.summary().iloc[0]["n_clips"] == 40 and len(ex.sphere_widget.data[2].x) == 20

    ex.domain_dropdown.value = "target"  # a filter: no refit
    fit = ex.fit
    assert ex.fit is fit and ex.summary().iloc[0]["n_clips"] == 20
    drawn = ex.drawn_table()
    assert set(drawn["domain"]) == {"target"} and set(drawn["machine"]) == {"fan"}
    assert len(ex.sphere_widget.data[2].x) + len(ex.sphere_widget.data[3].x) == 20
    assert "fan, target" in ex.hist_widget.layout.title.text
    # AUC under the status line: the table of angle_auc_table, the drawn cell in bold
    auc = ex.auc_table()
    t = ex.table()
    part = t[(t["machine"] == "fan") & (t["domain"] == "target")]
    assert auc.loc["fan", "target"] == pytest.approx(roc_auc_score(part["label"] == "anomaly", part["angle"]))
    assert f"<b>{auc.loc['fan', 'target']:.3f}</b>" in ex.auc_html.value and "valve" in ex.auc_html.value

    ex.color_dropdown.value = "anomaly_kind"
    anomalies = ex.sphere_widget.data[3]
    kinds = drawn.loc[drawn["label"] == "anomaly", "anomaly_kind"]
    assert list(anomalies.marker.color) == [KIND_COLORS[KINDS.index(k)] for k in kinds]
    assert [tr.name for tr in ex.sphere_widget.data[6:]] == sorted(set(kinds))
    ex.color_dropdown.value = "severity"
    assert set(ex.sphere_widget.data[3].marker.color) <= set(SEVERITY_COLORS)

    ex.view_toggle.value = "ecdf"
    normal = drawn.loc[drawn["label"] == "normal", "angle"].sort_values().to_numpy()
    np.testing.assert_allclose(ex.hist_widget.data[0].x[1:], normal)
    np.testing.assert_allclose(ex.hist_widget.data[0].y[1:], np.arange(1, len(normal) + 1) / len(normal))
    ex.view_toggle.value = "histogram"

    ex.pin_button.click()  # pin this setting, then change it
    assert ex.pinned["settings"]["m"] == 0.7 and not ex.unpin_button.disabled
    pinned_normals = np.sort(ex.pinned["normal"])
    ex.lock_checkbox.value = True
    locked = ex.locked_x
    assert locked == ex.hist_widget.layout.xaxis.range[1]
    ex.m_slider.value = 0.1
    assert len(ex.hist_widget.data) == 6 and ex.hist_widget.data[4].name.startswith("pinned normal")
    assert ex.hist_widget.layout.xaxis.range[1] == locked  # the axis stays put across the retrain
    np.testing.assert_allclose(np.sort(ex.pinned["normal"]), pinned_normals)  # the pin does not follow
    assert not np.allclose(ex.hist_widget.data[0].y, ex.hist_widget.data[4].y)
    ex.unpin_button.click()
    ex.lock_checkbox.value = False
    assert len(ex.hist_widget.data) == 4 and ex.locked_x is None and ex.unpin_button.disabled

    ex.alpha_slider.value = 2.0  # the Beta density follows the slider
    np.testing.assert_allclose(ex.beta_widget.data[0].y, beta_law.pdf(np.array(ex.beta_widget.data[0].x), 2, 2))
    ex.loss_dropdown.value = "arcmix"  # and the margin drawing the loss
    assert len(ex.margin_widget.data[2].y) == 3 and "two passes" in ex.margin_rule.value
    ex.loss_dropdown.value = "ce"
    assert "no margin" in ex.margin_rule.value and ex.margin_widget.data[1].marker.color[0] == "#1f77b4"


def test_clicking_a_point_shows_and_plays_the_clip(tmp_path):
    run = _with_data(tmp_path / "run", tmp_path / "data")
    ex = AngleExplorer(run, steps=STEPS, machine="valve")
    ex.widget()
    trace = ex.sphere_widget.data[3]  # the anomalous test clips drawn
    row = trace.customdata[2]
    ex._on_click(trace, Points(point_inds=[2], trace_name=trace.name, trace_index=3), None)
    rec = ex.table().iloc[row]
    assert rec["machine"] == "valve" and rec["label"] == "anomaly"
    assert ex.clip["file"] == rec["file"] and ex.clip["path"] == tmp_path / "data" / "valve" / "test" / rec["file"]
    assert rec["file"] in ex.clip_label.value and rec["anomaly_kind"] in ex.clip_label.value
    assert ex.clip_audio.value == ex.clip["path"].read_bytes() and ex.clip_audio.autoplay
    mel = np.array(ex.clip_mel_widget.data[0].z)
    assert mel.shape == (128, 1 + 4000 // 512) and ex.clip["mel"].shape == mel.shape
    assert rec["file"] in ex.clip_mel_widget.layout.title.text
    ex._on_click(trace, Points(point_inds=[], trace_name=trace.name, trace_index=3), None)  # no point: no change
    assert ex.clip["row"] == row
    normal_row = int(np.flatnonzero(ex.table()["label"].to_numpy() == "normal")[0])
    ex.show_clip(normal_row)  # a normal clip's line says "normal" once, with no kind or severity
    assert ex.clip_label.value.count("normal") == 1 + ex.table().iloc[normal_row]["file"].count("normal")
    assert "severity" not in ex.clip_label.value
    ex.show_clip(row)
    # a clip whose file is gone: its name and why there is no audio
    first = ex.table().iloc[0]
    (tmp_path / "data" / first["machine"] / "test" / first["file"]).unlink()
    rec = ex.show_clip(0)
    assert rec["path"] is None and "not found under" in ex.clip_label.value
    assert ex.clip_audio.layout.display == "none"
    assert find_clip(None, "valve", "test", "c0.wav") is None and find_clip(tmp_path / "nowhere", "fan", "test", "x") is None


def test_the_run_switcher_loads_each_run_once(tmp_path, monkeypatch):
    import asdlab.viz.explorer as explorer

    runs = {"CE": _with_data(tmp_path / "ce", tmp_path / "data"), "Noisy-ArcMix": _tiny_run(tmp_path / "nam", seed=3)}
    loads = []
    original = explorer.load_explorer_run
    monkeypatch.setattr(explorer, "load_explorer_run", lambda *a: loads.append(a[0]) or original(*a))
    ex = AngleExplorer(runs=runs, steps=STEPS)
    assert ex.run == "CE" and loads == [runs["CE"]]  # the other run is not read yet
    ex.widget()
    ex.color_dropdown.value = "severity"
    first = np.array(ex.sphere_widget.data[2].x)
    ex.run_dropdown.value = "Noisy-ArcMix"
    assert loads == [runs["CE"], runs["Noisy-ArcMix"]] and ex.run_dir == runs["Noisy-ArcMix"]
    assert not np.allclose(np.array(ex.sphere_widget.data[2].x)[:5], first[:5])
    # no ground truth there (no config.json): only normal / anomalous coloring, and a note says so
    assert ex.color == "label" and [v for _, v in ex.color_dropdown.options] == ["label"]
    assert "no factory ground truth" in ex.notes.value and "Noisy-ArcMix" in ex.status.value
    fit = ex.fit
    ex.run_dropdown.value = "CE"
    ex.run_dropdown.value = "Noisy-ArcMix"
    assert ex.fit is fit and len(loads) == 2  # cached data and fit: no reload, no retrain
    ex.dim_toggle.value = 2
    assert ex.fit.centers.shape == (8, 2)
    with pytest.raises(ConfigError, match="run='ArcFace'"):
        AngleExplorer(runs=runs, run="ArcFace")
    with pytest.raises(ConfigError, match="run_dir"):
        AngleExplorer()
    with pytest.raises(ConfigError, match="color='severity'.*no factory ground truth"):
        AngleExplorer(runs["Noisy-ArcMix"], color="severity", steps=STEPS)
    with pytest.raises(ConfigError, match="domain='eval'"):
        AngleExplorer(runs["Noisy-ArcMix"], domain="eval", steps=STEPS)


def test_export_writes_the_drawn_table_and_the_settings(tmp_path):
    ex = AngleExplorer(_with_data(tmp_path / "run", tmp_path / "data"), steps=STEPS, domain="source")
    ex.pin()
    csv_path, json_path = ex.export(tmp_path / "out", "mine")
    assert (csv_path, json_path) == (tmp_path / "out" / "mine.csv", tmp_path / "out" / "mine.json")
    table = pd.read_csv(csv_path, dtype={"section": str})
    drawn = ex.drawn_table()
    assert len(table) == len(drawn) == 20 and set(table["domain"]) == {"source"}
    np.testing.assert_allclose(table["angle"], drawn["angle"])
    assert {"anomaly_kind", "severity", "head_class"} <= set(table.columns)
    record = json.loads(json_path.read_text())
    assert record["settings"] == ex.settings and record["machine"] == "fan" and record["domain"] == "source"
    assert record["summary"]["angle_auc"] == pytest.approx(ex.summary().iloc[0]["angle_auc"], abs=1e-6)
    assert record["pinned"]["settings"]["loss"] == "noisy_arcmix" and "normal" not in record["pinned"]
    assert set(record["auc"]) == {"fan", "valve", "all"}
    ex.widget()  # the button: default name, folder from the text box
    ex.export_folder.value = str(tmp_path / "button")
    ex.export_button.click()
    assert (tmp_path / "button" / "angles_run_noisy_arcmix_fan_source.csv").exists()
    assert "wrote" in ex.export_status.value
    ex.export_name.value = "../escape"
    ex.export_button.click()
    assert "export failed" in ex.export_status.value and "'../escape'" in ex.export_status.value


def test_filter_changes_redraw_without_retraining_and_only_the_figures_they_concern(tmp_path, monkeypatch):
    """What keeps the explorer interactive (no wall-clock bound: a loaded CI missed a 1 s one):
    a filter change or a pin never retrains the toy head, and redraws only the figures whose
    state changed; a setting change retrains once, and its fit is reused when it comes back."""
    import asdlab.viz.explorer as explorer

    calls = {"fit": 0, "hist": 0, "sphere": 0, "beta": 0, "margin": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(explorer, "fit_head", counted("fit", explorer.fit_head))
    monkeypatch.setattr(explorer, "beta_figure", counted("beta", explorer.beta_figure))
    monkeypatch.setattr(explorer, "margin_figure", counted("margin", explorer.margin_figure))
    monkeypatch.setattr(AngleExplorer, "histogram_figure", counted("hist", AngleExplorer.histogram_figure))
    monkeypatch.setattr(AngleExplorer, "sphere_figure", counted("sphere", AngleExplorer.sphere_figure))
    ex = AngleExplorer(_with_data(tmp_path / "run", tmp_path / "data"), steps=STEPS, color="anomaly_kind")
    ex.widget()
    assert calls == {"fit": 1, "hist": 1, "sphere": 1, "beta": 1, "margin": 1}
    ex.machine_dropdown.value = "valve"                        # both clip figures show other clips
    assert calls == {"fit": 1, "hist": 2, "sphere": 2, "beta": 1, "margin": 1}
    ex.view_toggle.value = "ecdf"                              # the histogram only
    ex.pin()
    assert calls == {"fit": 1, "hist": 4, "sphere": 2, "beta": 1, "margin": 1}
    ex.domain_dropdown.value = "source"
    assert calls == {"fit": 1, "hist": 5, "sphere": 3, "beta": 1, "margin": 1}
    m = ex.m_slider.value
    ex.m_slider.value = m / 2                                  # a new setting: one new fit
    assert calls["fit"] == 2 and calls["margin"] == 2 and calls["beta"] == 1
    ex.m_slider.value = m                                      # back: the cached fit
    assert calls["fit"] == 2


def test_figure_widgets_load_plotlys_module_once_per_page_after_initialize(tmp_path):
    """Every figure widget sends a small module holding plotly's bundle as a string; in a page
    the bundle is imported once, after ``initialize`` has returned (anywidget's 2 s deadline);
    ``render`` runs plotly's initialize then render (the browser side, with plotly itself:
    tests/test_jupyterlab_browser.py). Checked in node with a toy bundle."""
    import shutil
    import subprocess

    bundle = BUNDLE.read_text(encoding="utf-8")
    assert SharedFigureWidget()._esm == widget_esm(bundle) != AutosizeFigureWidget()._esm == widget_esm(bundle, True)
    assert len(widget_esm("export default 1;")) < 3000 and "const AUTOSIZE = true;" in widget_esm("x", True)
    assert widget_esm("a") != widget_esm("b") and widget_esm("a").split("\n")[0] != widget_esm("b").split("\n")[0]
    if shutil.which("node") is None:
        pytest.skip("node not installed")
    toy = ("globalThis.evaluated = (globalThis.evaluated || 0) + 1;\n"
           "export default () => { let m; return { initialize(ctx) { m = ctx.model; globalThis.log.push('init ' + m); },"
           " render(ctx) { globalThis.log.push('render ' + m + ' ' + ctx.el.id); return () => globalThis.log.push('gone'); } }; };"
           "\u2028")  # a line separator: valid in the module, must stay valid in the string literal
    (tmp_path / "widget.mjs").write_text(widget_esm(toy), encoding="utf-8")
    (tmp_path / "page.mjs").write_text("""
globalThis.log = [];
globalThis.Blob = class { constructor(parts) { this.text = parts.join(""); } };  // node imports no blob: URLs
URL.createObjectURL = (b) => "data:text/javascript;base64," + Buffer.from(b.text).toString("base64");
const w = (await import("./widget.mjs")).default;
const a = w(), b = w();
const ra = a.initialize({model: "A"}), rb = b.initialize({model: "B"});
log.push("initialized " + (ra === undefined && rb === undefined) + " " + (globalThis.evaluated || 0));
const done = await a.render({el: {id: "x"}});
await b.render({el: {id: "y"}});
done();
console.log(JSON.stringify({log, evaluated: globalThis.evaluated}));
""")
    out = subprocess.run(["node", str(tmp_path / "page.mjs")], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result == {"log": ["initialized true 0", "init A", "init B", "render A x", "render B y", "gone"],
                      "evaluated": 1}
    assert subprocess.run(["node", "--check", str(tmp_path / "widget.mjs")]).returncode == 0