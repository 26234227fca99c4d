import numpy as np
import pandas as pd

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


def test_figure_one_has_a_panel_per_loss_and_a_dropdown_per_selection():
    tables = {"ArcFace": _table(20, 0), "Noisy-ArcMix": _table(40, 1)}
    fig = angle_histograms(tables, bin_deg=5.0)
    n_sel = 3 * 3  # (all, fan, valve) x (all, source, target)
    assert len(fig.data) == n_sel * 2 * 2
    assert [a.text for a in fig.layout.annotations] == ["ArcFace", "Noisy-ArcMix"]
    buttons = fig.layout.updatemenus[0].buttons
    assert len(buttons) == n_sel and buttons[0].label == "all machines / both domains"
    visible = [t.visible for t in fig.data]
    assert sum(visible) == 4 and all(visible[:4])
    # the first trace: normal clips of all machines for ArcFace; shares sum to 1
    first = fig.data[0]
    assert first.name == "normal" and np.isclose(sum(first.y), 1.0)
    # the selection 'fan / target' shows only those 5 anomalous Noisy-ArcMix clips
    k = [b.label for b in buttons].index("fan / target")
    shown = [t for t, v in zip(fig.data, buttons[k].args[0]["visible"]) if v]
    assert len(shown) == 4
    expected, _ = np.histogram(tables["Noisy-ArcMix"].query("machine == 'fan' and domain == 'target' and label == 'anomaly'")["angle"],
                               bins=np.arange(0.0, fig.layout.xaxis.range[1] + 5.0, 5.0))
    np.testing.assert_allclose(shown[3].y, expected / 5)
