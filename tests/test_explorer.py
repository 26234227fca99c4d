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
    ex = AngleExplorer(_tiny_run(tmp_path), steps=STEPS)
    box = ex.widget()
    assert isinstance(ex.hist_widget, go.FigureWidget) and isinstance(ex.sphere_widget, go.FigureWidget)
    assert box.children[-1] is ex.sphere_widget and not ex.m_slider.disabled and not ex.alpha_slider.disabled
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
