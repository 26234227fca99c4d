import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from asdlab.viz import teaching
from asdlab.data import build_clip_table, parse_filename
from asdlab.core.errors import AsdlabError, MetricsError
from asdlab.metrics import official_score, section_metrics


@pytest.fixture(scope="module")
def valve_data(tmp_path_factory):
    """Smoke factory data of the valve only (a few seconds), its clip table and ground truth."""
    from asdlab.analysis import factory_ground_truth
    from asdlab.data.synth import generate_dataset

    root = generate_dataset(tmp_path_factory.mktemp("factory"), "smoke", machines=["valve"], progress=False)
    return root, build_clip_table(root), factory_ground_truth(root)


def _random_scores(seed, n=40):
    rng = np.random.default_rng(seed)
    label = rng.choice(["normal", "anomaly"], n)
    domain = rng.choice(["source", "target"], n)
    domain[:4] = ["source", "source", "target", "target"]  # every domain has both labels
    label[:4] = ["normal", "anomaly", "normal", "anomaly"]
    # rounded scores: ties between normals and anomalies occur
    score = np.round(rng.normal(0, 1, n) + (label == "anomaly"), 1)
    return pd.DataFrame({"machine": "m", "section": "00", "domain": domain, "label": label, "score": score})


# --- the hand-sized example -------------------------------------------------------------------

def test_tiny_example_has_the_hand_computed_official_metrics():
    tiny = teaching.tiny_example()
    assert len(tiny) == 10 and list(tiny["score"]) == [float(k) for k in range(1, 11)]
    assert tiny.groupby(["domain", "label"]).size().to_dict() == {
        ("source", "anomaly"): 2, ("source", "normal"): 3, ("target", "anomaly"): 2, ("target", "normal"): 3}
    for row in tiny.itertuples():  # the names are valid DCASE names that agree with the columns
        info = parse_filename(row.file)
        assert (info["domain"], info["label"], info["split"]) == (row.domain, row.label, "test")
    assert tiny["file"].is_unique
    st = section_metrics(tiny)
    assert st.loc[0, "auc_source"] == 1.0 and st.loc[0, "auc_target"] == 0.75
    assert st.loc[0, "auc"] == pytest.approx(21 / 24)
    # raw area below FPR 0.1 is 0.1 * 0.5; McClish: 0.5 * (1 + (0.05 - 0.005) / (0.1 - 0.005))
    assert st.loc[0, "pauc"] == pytest.approx(0.5 * (1 + 0.045 / 0.095))
    assert official_score(st) == pytest.approx(3 / (1 + 1 / 0.75 + 0.095 / 0.07), abs=1e-12)
    assert round(official_score(st), 4) == 0.8129


def test_auc_by_counting_counts_pairs_of_the_tiny_example():
    t = teaching.auc_by_counting(teaching.tiny_example())
    assert t.loc["source", ["pairs", "anomaly_higher", "ties"]].tolist() == [12, 12, 0]
    assert t.loc["target", ["n_normal", "n_anomaly", "pairs", "anomaly_higher"]].tolist() == [3, 4, 12, 9]
    assert t.loc["all", "auc"] == pytest.approx(21 / 24)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_by_counting_equals_the_official_per_domain_auc_with_ties(seed):
    scores = _random_scores(seed)
    counted = teaching.auc_by_counting(scores)
    st = section_metrics(scores)
    assert counted.loc["all", "ties"] > 0  # rounded scores: ties between normals and anomalies
    assert counted.loc["source", "auc"] == pytest.approx(st.loc[0, "auc_source"])
    assert counted.loc["target", "auc"] == pytest.approx(st.loc[0, "auc_target"])
    assert counted.loc["all", "auc"] == pytest.approx(st.loc[0, "auc"])


def test_auc_by_counting_rejects_bad_tables():
    with pytest.raises(MetricsError, match="lacks column"):
        teaching.auc_by_counting(pd.DataFrame({"label": ["normal"], "score": [1.0]}))
    bad = teaching.tiny_example().assign(label=lambda t: t["label"].replace("anomaly", "broken"))
    with pytest.raises(MetricsError, match="'broken'"):
        teaching.auc_by_counting(bad)


# --- ROC figure -------------------------------------------------------------------------------

def test_roc_figure_of_the_tiny_example_shades_the_pauc_region():
    tiny = teaching.tiny_example()
    fig = teaching.roc_figure(tiny["label"], tiny["score"], max_fpr=0.1, domains=tiny["domain"])
    names = [t.name for t in fig.data]
    assert names[0].startswith("pAUC region") and "0.0500" in names[0]
    assert names[1] == "all clips: AUC 0.8750" and names[2].startswith("chance")
    assert names[3:] == ["source normals + all anomalies: AUC 1.0000",
                         "target normals + all anomalies: AUC 0.7500"]
    shade = fig.data[0]
    assert shade.fill == "tozeroy"
    assert shade.x[0] == 0 and shade.x[-1] == pytest.approx(0.1) and max(shade.x) == pytest.approx(0.1)
    assert shade.y[-1] == pytest.approx(0.5)  # half the anomalies are above every normal clip
    assert fig.layout.shapes[0].x0 == pytest.approx(0.1)  # the max_fpr line
    assert "pAUC 0.7368" in fig.layout.title.text


@pytest.mark.parametrize("seed,max_fpr", [(0, 0.1), (1, 0.1), (2, 0.25), (3, 0.05)])
def test_roc_figure_shaded_area_standardised_is_sklearns_pauc(seed, max_fpr):
    scores = _random_scores(seed, n=60)
    y = (scores["label"] == "anomaly").to_numpy()
    fig = teaching.roc_figure(y.astype(int), scores["score"], max_fpr=max_fpr)
    shade, curve = fig.data[0], fig.data[1]
    fpr, tpr, _ = roc_curve(y, scores["score"])
    np.testing.assert_allclose(curve.x, fpr)
    np.testing.assert_allclose(curve.y, tpr)
    area = np.trapezoid(shade.y, shade.x)
    lo, hi = 0.5 * max_fpr ** 2, max_fpr
    assert 0.5 * (1 + (area - lo) / (hi - lo)) == pytest.approx(roc_auc_score(y, scores["score"], max_fpr=max_fpr))
    assert shade.x[-1] == pytest.approx(max_fpr) and np.all(np.diff(shade.x) >= 0)
    assert len(fig.data) == 3  # no domain curves without domains


def test_roc_figure_rejects_bad_input():
    with pytest.raises(MetricsError, match="both normal and anomalous"):
        teaching.roc_figure([0, 0, 0], [1.0, 2.0, 3.0])
    with pytest.raises(MetricsError, match="equal length"):
        teaching.roc_figure([0, 1, 1], [1.0, 2.0])
    with pytest.raises(MetricsError, match="'abnormal'"):
        teaching.roc_figure(["normal", "abnormal"], [1.0, 2.0])
    with pytest.raises(MetricsError, match="0 \\(normal\\) / 1"):
        teaching.roc_figure([0, 2], [1.0, 2.0])
    with pytest.raises(MetricsError, match="max_fpr=0"):
        teaching.roc_figure([0, 1], [1.0, 2.0], max_fpr=0)
    with pytest.raises(MetricsError, match="finite"):
        teaching.roc_figure([0, 1], [1.0, np.nan])


# --- clips, spectrograms, ground truth -------------------------------------------------------

def test_example_clips_and_spectrogram_figure(valve_data):
    _, table, gt = valve_data
    clips = teaching.example_clips(table, "valve", gt)
    assert list(clips) == ["source normal", "target normal", "source anomaly", "target anomaly"]
    files = {k: v.rsplit("/", 1)[-1] for k, v in clips.items()}
    assert files["source normal"] == min(table.query("split == 'test' and domain == 'source' and label == 'normal'")["file"])
    sev = gt.set_index("file")["severity"]
    for domain in ("source", "target"):  # the anomaly shown is the most severe of its cell
        cell = table.query(f"split == 'test' and domain == '{domain}' and label == 'anomaly'")["file"]
        assert sev[files[f"{domain} anomaly"]] == sev[cell].max()
    fig = teaching.spectrogram_figure(clips)
    assert len(fig.data) == 4 and all(t.type == "heatmap" for t in fig.data)
    assert [t.name for t in fig.data] == list(clips)
    assert np.asarray(fig.data[0].z).shape == (128, 1 + 2 * 16000 // 512)  # smoke clips are 2 s
    assert fig.data[0].x[1] == pytest.approx(512 / 16000)
    zmax = max(float(np.max(t.z)) for t in fig.data)
    assert fig.layout.coloraxis.cmax == pytest.approx(zmax) and fig.layout.coloraxis.cmin == pytest.approx(zmax - 80)
    assert files["target normal"] in fig.layout.annotations[1].text
    assert all(t.coloraxis == "coloraxis" for t in fig.data)
    # without ground truth: the first anomaly by name
    plain = teaching.example_clips(table, "valve")
    first = min(table.query("split == 'test' and domain == 'source' and label == 'anomaly'")["file"])
    assert plain["source anomaly"].endswith(first)
    with pytest.raises(AsdlabError, match="'fan'.*machines: \\['valve'\\]"):
        teaching.example_clips(table, "fan")
    with pytest.raises(AsdlabError, match="no clips"):
        teaching.spectrogram_figure({})


def test_anomaly_kinds_lists_each_kind_of_the_valve(valve_data):
    _, table, gt = valve_data
    kinds = teaching.anomaly_kinds(gt)
    assert list(kinds.index.get_level_values("anomaly_kind")) == ["chatter", "leak", "sluggish", "stuck"]
    n_anomalies = int(((table["split"] == "test") & (table["label"] == "anomaly")).sum())
    assert kinds["clips"].sum() == n_anomalies
    assert (kinds["severity_min"] <= kinds["severity_max"]).all() and (kinds["severity_min"] > 0).all()
    with pytest.raises(AsdlabError, match="no anomalous"):
        teaching.anomaly_kinds(gt[gt["anomaly_kind"] == ""])


def _scores_and_truth():
    """Two machines; fan anomalies of kind 'loud' score above all normals, 'quiet' among them."""
    rows, truth = [], []
    for machine, offset in [("fan", 0.0), ("valve", 100.0)]:
        for i, (domain, label, kind, score) in enumerate([
                ("source", "normal", "", 1.0), ("source", "normal", "", 3.0),
                ("target", "normal", "", 2.0), ("target", "normal", "", 4.0),
                ("source", "anomaly", "loud", 10.0), ("target", "anomaly", "loud", 9.0),
                ("source", "anomaly", "quiet", 2.5), ("source", "anomaly", "quiet", 0.5)]):
            f = f"{machine}_{i}.wav"
            rows.append({"file": f, "machine": machine, "section": "00", "domain": domain,
                         "label": label, "score": score + offset, "decision": int(score > 5)})
            truth.append({"file": f, "machine": machine, "anomaly_kind": kind, "severity": 0.1 * i})
    return pd.DataFrame(rows), pd.DataFrame(truth)


def test_top_clips_ranks_within_each_machine():
    scores, gt = _scores_and_truth()
    top = teaching.top_clips(scores, gt, n=3)
    assert len(top) == 6 and list(top["rank"]) == [1, 2, 3, 1, 2, 3]
    fan = top[top["machine"] == "fan"]
    assert list(fan["score"]) == [10.0, 9.0, 4.0]
    assert list(fan["anomaly_kind"]) == ["loud", "loud", ""]
    only = teaching.top_clips(scores, n=2, machine="valve")
    assert list(only["file"]) == ["valve_4.wav", "valve_5.wav"] and "anomaly_kind" not in only
    with pytest.raises(AsdlabError, match="'pump'"):
        teaching.top_clips(scores, machine="pump")


def test_kind_auc_separates_an_obvious_and_an_invisible_kind():
    scores, gt = _scores_and_truth()
    k = teaching.kind_auc(scores, gt)
    assert list(k.index) == [(m, kind) for m in ("fan", "valve") for kind in ("loud", "quiet")]
    loud, quiet = k.loc[("fan", "loud")], k.loc[("fan", "quiet")]
    assert loud["clips"] == 2 and loud["auc_source"] == 1.0 and loud["auc_target"] == 1.0 and loud["auc"] == 1.0
    assert quiet["auc_source"] == pytest.approx(0.25)  # 2.5 beats 1.0 only: 1 of 4 pairs
    assert np.isnan(quiet["auc_target"])  # no target clip of this kind
    assert quiet["auc"] == pytest.approx(roc_auc_score([0, 0, 0, 0, 1, 1], [1, 3, 2, 4, 2.5, 0.5]))
    assert quiet["mean_severity"] == pytest.approx(0.65)


def test_history_figure_one_panel_per_machine(tmp_path):
    assert teaching.load_history(tmp_path) is None
    hist = pd.DataFrame({"machine": ["fan"] * 3 + ["valve"] * 3, "epoch": [0, 1, 2] * 2,
                         "train_loss": [3.0, 2.0, 1.0, 4.0, 3.0, 2.0],
                         "val_loss": [3.5, 2.5, 1.5, 4.5, 3.5, 2.5], "lr": 1e-3})
    hist.to_csv(tmp_path / "history.csv", index=False)
    loaded = teaching.load_history(tmp_path)
    pd.testing.assert_frame_equal(loaded, hist)
    fig = teaching.history_figure(loaded)  # one panel per machine, training dashed, validation solid
    assert [(t.name, t.xaxis) for t in fig.data] == [("training loss", "x"), ("validation loss (monitored)", "x"),
                                                    ("training loss", "x2"), ("validation loss (monitored)", "x2")]
    assert fig.data[0].line.color == fig.data[2].line.color != fig.data[1].line.color
    assert fig.data[0].line.dash == "dash" and list(fig.data[3].y) == [4.5, 3.5, 2.5]
    assert [a.text.split(":")[0] for a in fig.layout.annotations] == ["machine fan", "machine valve"]
    single = teaching.history_figure(hist[hist["machine"] == "fan"].drop(columns=["machine", "val_loss"]))
    assert [t.name for t in single.data] == ["training loss (monitored)"]
    with pytest.raises(AsdlabError, match="train_loss"):
        teaching.history_figure(hist.drop(columns="train_loss"))


def test_pick_machine_prefers_valve_and_names_what_the_data_has():
    from asdlab.core.errors import ConfigError
    from asdlab.viz.teaching import pick_machine

    table = pd.DataFrame({"machine": ["fan", "gearbox", "fan"]})
    assert pick_machine(table, None) == "fan"
    assert pick_machine(pd.DataFrame({"machine": ["fan", "valve"]}), None) == "valve"
    assert pick_machine(table, "gearbox") == "gearbox"
    with pytest.raises(ConfigError, match="machine='valve': not in this dataset; it has fan, gearbox"):
        pick_machine(table, "valve")
