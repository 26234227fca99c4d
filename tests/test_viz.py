import numpy as np
import pandas as pd
import pytest

from asdlab.viz import angle_histograms


def _table(shift, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for machine in ["fan", "valve"]:
        for domain in ["source", "target"]:
            for label, mu in [("normal", 10.0), ("anomaly", 10.0 + shift)]:
                for a in np.abs(rng.normal(mu, 3.0, 5)):
                    rows.append(dict(machine=machine, domain=domain, label=label, angle=a))
    return pd.DataFrame(rows)


def _visible_after(fig, *buttons):
    """Trace visibility after clicking ``buttons`` (menu index, label) in order, as plotly.js
    applies an "update" button: restyle ``args[0]``, relayout ``args[1]``."""
    menus = [list(m.buttons) for m in fig.layout.updatemenus]
    visible = [t.visible for t in fig.data]
    for menu, label in buttons:
        button = next(b for b in menus[menu] if b.label == label)
        visible = list(button.args[0]["visible"])
        if len(button.args) > 1:
            for key, value in button.args[1].items():
                if key.endswith(".buttons"):
                    menus[int(key[len("updatemenus["):key.index("]")])] = [type(menus[0][0])(b) for b in value]
    return visible


def test_figure_one_has_a_panel_per_loss_and_dependent_machine_and_domain_menus():
    tables = {"ArcFace": _table(20, 0), "Noisy-ArcMix": _table(40, 1)}
    fig = angle_histograms(tables, bin_deg=5.0)
    n_sel = 3 * 3  # (all, fan, valve) x (all, source, target)
    assert len(fig.data) == n_sel * 2 * 2
    assert [a.text for a in fig.layout.annotations] == ["ArcFace", "Noisy-ArcMix"]
    machines, domains = fig.layout.updatemenus
    assert [b.label for b in machines.buttons] == ["all machines", "fan", "valve"]
    assert [b.label for b in domains.buttons] == ["both domains", "source", "target"]
    visible = [t.visible for t in fig.data]
    assert sum(visible) == 4 and all(visible[:4])
    # the first trace: normal clips of all machines for ArcFace; shares sum to 1
    first = fig.data[0]
    assert first.name == "normal" and np.isclose(sum(first.y), 1.0)
    # machine 'fan', then domain 'target': only those 5 anomalous Noisy-ArcMix clips
    shown = [t for t, v in zip(fig.data, _visible_after(fig, (0, "fan"), (1, "target"))) if v]
    assert len(shown) == 4
    expected, _ = np.histogram(tables["Noisy-ArcMix"].query("machine == 'fan' and domain == 'target' and label == 'anomaly'")["angle"],
                               bins=np.arange(0.0, fig.layout.xaxis.range[1] + 5.0, 5.0))
    np.testing.assert_allclose(shown[3].y, expected / 5)
    # the domain menu alone keeps the machine: all machines, target
    assert _visible_after(fig, (1, "target")) == [j // 4 == 2 for j in range(36)]
    assert _visible_after(fig, (0, "valve")) == [j // 4 == 6 for j in range(36)]


def _open_menu_fits(fig) -> list[str]:
    """The menus of ``fig`` whose open list (every entry, MENU_ITEM_PX each, hanging from the
    menu) would reach below the figure's bottom edge."""
    from asdlab.viz.figures import MENU_ITEM_PX
    top, bottom = fig.layout.margin.t, fig.layout.margin.b
    plot_px = fig.layout.height - top - bottom
    bad = []
    for k, menu in enumerate(fig.layout.updatemenus):
        below_header = bottom + menu.y * plot_px - (MENU_ITEM_PX if menu.yanchor == "top" else 0)
        if len(menu.buttons) * MENU_ITEM_PX > below_header:
            bad.append(f"menu {k}: {len(menu.buttons)} entries, {below_header:.0f} px")
    return bad


@pytest.mark.parametrize("n_machines", [2, 8, 16])
def test_every_menu_entry_is_inside_the_figure(n_machines):
    """Issue 17: the 24-entry machine/domain menu of Figure 1 ran past the 360-px figure."""
    from asdlab.viz import embedding_map, subcluster_angle_scatter
    rng = np.random.default_rng(0)
    machines = [f"m{k:02d}" for k in range(n_machines)]
    t = pd.DataFrame([dict(machine=m, domain=d, label=lab, angle=float(rng.uniform(0, 60)))
                      for m in machines for d in ("source", "target") for lab in ("normal", "anomaly")])
    figs = [angle_histograms({"CE": t, "Noisy-ArcMix": t})]
    points = pd.DataFrame([dict(file=f"{m}_{s}.wav", machine=m, split=s, domain="source", label="normal",
                                x=float(rng.normal()), y=float(rng.normal())) for m in machines for s in ("train", "test")])
    figs.append(embedding_map(points, color_by=("domain", "label")))
    sub = t.assign(split="test", angle_class=t["angle"], angle_subcluster=t["angle"] / 2)
    figs.append(subcluster_angle_scatter(sub))
    for fig in figs:
        assert _open_menu_fits(fig) == []


def test_figure_one_menus_stay_above_the_panel_titles():
    fig = angle_histograms({"CE": _table(20, 0), "Noisy-ArcMix": _table(40, 1)})
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    title_px = [a.y for a in fig.layout.annotations]  # subplot titles sit at paper y = 1
    for menu in fig.layout.updatemenus:
        assert menu.yanchor == "bottom" and (menu.y - max(title_px)) * plot_px >= 25
        assert (menu.y - 1) * plot_px + 34 <= fig.layout.margin.t  # the closed menu is inside the margin


# ------------------------------------------------------------------------- embedding map

def _points():
    rows = []
    for machine, attrs in [("fan", "spd_10"), ("gearbox", "noAttribute")]:
        for i in range(4):
            rows.append(dict(file=f"{machine}_train_{i}.wav", machine=machine, domain="source" if i < 3 else "target",
                             label="normal", split="train", attributes=attrs,
                             true_attributes=f"v_{i % 2}", anomaly_kind=""))
        for i, (d, lab) in enumerate([("source", "normal"), ("source", "anomaly"), ("target", "anomaly")]):
            rows.append(dict(file=f"{machine}_test_{i}.wav", machine=machine, domain=d, label=lab, split="test",
                             attributes=attrs, true_attributes="v_0",
                             anomaly_kind="rub" if lab == "anomaly" else ""))
    pts = pd.DataFrame(rows)
    return pts.assign(x=np.arange(len(pts), dtype=float), y=-np.arange(len(pts), dtype=float))


def test_embedding_map_menus_colors_symbols_and_hover():
    from asdlab.viz import COLOR_BY, FIXED_COLORS, LABEL_COLORS, embedding_map

    pts = _points()
    fig = embedding_map(pts)
    data = [t for t in fig.data if t.x[0] is not None]
    assert [t.name for t in data] == ["fan train", "fan test", "gearbox train", "gearbox test"]
    assert [t.marker.symbol for t in data] == ["circle", "diamond"] * 2
    assert list(data[1].customdata[:, 0]) == ["fan_test_0.wav", "fan_test_1.wav", "fan_test_2.wav"]
    np.testing.assert_array_equal(data[1].x, [4, 5, 6])
    color_menu, machine_menu = fig.layout.updatemenus
    assert [b.label for b in color_menu.buttons] == [COLOR_BY[c] for c in COLOR_BY if c in pts.columns]  # no subcluster here
    # default coloring: domain; the legend lists source and target plus the two symbols
    assert list(data[0].marker.color) == [FIXED_COLORS["domain"]["source"]] * 3 + [FIXED_COLORS["domain"]["target"]]
    assert sorted(t.name for t in fig.data if t.showlegend is not False and t.visible is not False
                  and t.x[0] is None) == ["source", "target", "test clips", "train clips"]
    # the label button recolors the test clips: normal blue, anomalies red; legend follows
    label = color_menu.buttons[list(COLOR_BY).index("label")].args
    assert list(label[0]["marker.color"][1]) == [LABEL_COLORS["normal"], LABEL_COLORS["anomaly"], LABEL_COLORS["anomaly"]]
    assert label[1] == {"legend.title.text": COLOR_BY["label"]} and list(label[2]) == list(range(len(fig.data)))
    legend = [t.name for t, shown in zip(fig.data, label[0]["showlegend"]) if shown and t.visible is not False]
    assert sorted(legend) == ["anomaly", "normal", "test clips", "train clips"]
    # anomaly kind: normal clips say "normal", anomalies their kind
    kind = color_menu.buttons[list(COLOR_BY).index("anomaly_kind")].args[0]
    names = [t.name for t, shown in zip(fig.data, kind["showlegend"]) if shown and t.visible is not False]
    assert sorted(names) == ["normal", "rub", "test clips", "train clips"]
    # true attributes v_0 / v_1 get two different palette colors
    true = color_menu.buttons[list(COLOR_BY).index("true_attributes")].args[0]["marker.color"][0]
    assert true[0] == true[2] != true[1] == true[3]
    # machine menu: 'gearbox' shows only the gearbox traces and rescales the axes
    gear = machine_menu.buttons[[b.label for b in machine_menu.buttons].index("gearbox")].args
    assert list(gear[0]["visible"])[:4] == [False, False, True, True] and list(gear[2]) == list(range(len(fig.data)))
    assert gear[1]["xaxis.autorange"] is True
    # ... and its legend lists only the gearbox's categories, whichever color option is on
    attrs = color_menu.buttons[list(COLOR_BY).index("attributes")].args[0]["showlegend"]
    for button, expected in [(gear, ["noAttribute"]), (machine_menu.buttons[0].args, ["noAttribute", "spd_10"])]:
        legend = [t.name for t, shown, vis in zip(fig.data, attrs, button[0]["visible"])
                  if shown and vis and t.x[0] is None and t.legendgroup == "attributes"]
        assert legend == expected
    true_attrs = color_menu.buttons[list(COLOR_BY).index("true_attributes")].args[0]["showlegend"]
    legend = [t.name for t, shown, vis in zip(fig.data, true_attrs, gear[0]["visible"]) if shown and vis]
    assert sorted(legend) == ["test clips", "train clips", "v_0", "v_1"]


def test_embedding_map_skips_unknown_columns_and_rejects_bad_input():
    from asdlab.viz import embedding_map

    pts = _points().drop(columns=["true_attributes", "anomaly_kind"]).assign(domain=np.nan)
    fig = embedding_map(pts)
    assert [b.label.split(" ")[0] for b in fig.layout.updatemenus[0].buttons] == \
        ["label", "split", "machine", "attributes"]  # domain is all unknown: no option
    with pytest.raises(ValueError, match="lack column"):
        embedding_map(pts.drop(columns=["x"]))
    with pytest.raises(ValueError, match="cannot color by"):
        embedding_map(pts, color_by=["colour"])


# ------------------------------------------------------------------ scores and detection

def test_score_distributions_panel_per_machine_box_per_label():
    from asdlab.viz import score_distributions

    scores = pd.DataFrame({"file": [f"c{i}.wav" for i in range(8)], "machine": ["fan"] * 4 + ["valve"] * 4,
                           "domain": ["source", "target"] * 4, "label": ["normal", "normal", "anomaly", "anomaly"] * 2,
                           "score": np.arange(8.0)})
    fig = score_distributions(scores)
    assert [a.text for a in fig.layout.annotations] == ["fan", "valve"]
    assert [(t.name, t.xaxis) for t in fig.data] == [("normal", "x"), ("anomaly", "x"), ("normal", "x2"), ("anomaly", "x2")]
    np.testing.assert_array_equal(fig.data[3].y, [6.0, 7.0])
    assert list(fig.data[3].x) == ["source", "target"] and list(fig.data[3].text) == ["c6.wav", "c7.wav"]
    assert [t.showlegend for t in fig.data] == [True, True, False, False]
    assert fig.layout.boxmode == "group"


def test_detection_figure_bars_per_domain_and_empty_case():
    from asdlab.viz import detection_figure

    kind = pd.DataFrame({"machine": ["fan", "fan", "fan"], "domain": ["all", "all", "source"],
                         "kind": ["rub", "all kinds", "rub"], "auc": [0.9, 0.8, 0.7],
                         "n_anomaly": [5, 10, 3], "n_normal": [20, 20, 10]})
    sev = kind.rename(columns={"kind": "severity"}).assign(severity=["0-0.5", "all", "0-0.5"])
    fig = detection_figure(kind, sev)
    assert [a.text for a in fig.layout.annotations] == ["AUC per anomaly kind", "AUC per severity bin"]
    bars = [t for t in fig.data if t.type == "bar"]
    assert [(t.name, t.yaxis) for t in bars] == [("all", "y"), ("source", "y"), ("all", "y2"), ("source", "y2")]
    assert [list(level) for level in bars[0].x] == [["fan", "fan"], ["rub", "all kinds"]]
    np.testing.assert_allclose(bars[0].y, [0.9, 0.8])
    assert bars[1].customdata.tolist() == [[3, 10]]
    assert [s.y0 for s in fig.layout.shapes] == [0.5, 0.5]  # chance line in both panels
    only_kind = detection_figure(kind, None)
    assert len(only_kind.layout.annotations) == 1 and [t.type for t in only_kind.data] == ["scatter", "bar", "bar"]
    # the axis order: an invisible first trace lists "all" first, then bins by lower edge, for
    # every machine (plotly orders multicategory levels by first appearance)
    sev2 = pd.DataFrame({"machine": ["a", "a", "b", "b", "b"], "domain": "all", "auc": 0.5, "n_anomaly": 1,
                         "n_normal": 1, "severity": ["0.5-1", "all", "0-0.5", "0.5-1", "all"]})
    order = detection_figure(None, sev2).data[0]
    assert order.type == "scatter" and all(y is None for y in order.y)
    assert [list(level) for level in order.x] == [["a", "b", "b", "a", "b"], ["all", "all", "0-0.5", "0.5-1", "0.5-1"]]
    empty = detection_figure(kind.iloc[:0], kind.iloc[:0])
    assert len(empty.data) == 0 and "no anomaly kinds" in empty.layout.annotations[0].text


def test_format_table_keeps_the_precision_of_the_other_columns():
    """Issue 17: ``style.format(precision=1).format({"angle_auc": ...})`` printed 6 decimals."""
    from asdlab.viz import format_table
    t = pd.DataFrame({"n_clips": [10, 20], "median_normal_angle": [12.3456, np.nan], "angle_auc": [0.61234, 0.7]},
                     index=["CE", "ArcFace"])
    html = format_table(t, 1, {"angle_auc": "{:.3f}"}).to_html()
    cells = [c.split(">")[1] for c in html.split("<td ")[1:]]
    assert [c.split("<")[0].strip() for c in cells] == ["10", "12.3", "0.612", "20", "-", "0.700"]
    with pytest.raises(KeyError, match="angle_AUC"):
        format_table(t, formats={"angle_AUC": "{:.3f}"})
