"""Pseudo labels from guided clustering (seed 001, CUP DCASE2024): method ``guided_clustering``.

DeepCluster pretraining and guided fine-tuning (CE + pair loss) of an encoder on standardised
log-mels ``(B, n_mels, frames)``, k-means pseudo labels for the machines without attributes,
then sub-cluster AdaCos (run through the registry) scores on true + pseudo labels; embeddings
``(N, embedding_dim)`` of the fine-tuned encoder. Pipeline, parameters and presets:
``docs/methods/guided_clustering.md``.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import torch
from torch import nn

from asdlab.backends import clustering as pl
from asdlab.core.atomic import atomic_write, atomic_write_text
from asdlab.data.groundtruth import factory_ground_truth
from asdlab.data.classes import HIDDEN, class_names
from asdlab.artifacts.embeddings import save_embeddings
from asdlab.core.errors import ConfigError
from asdlab.methods import PRESETS as PRESET_NAMES
from asdlab.methods import Embeddings, Method, MethodOutput, RunContext, get_method, register
from asdlab.features.frames import RowsOf
from asdlab.methods.pipeline import fixed_log_mels
from asdlab.core.schema import Bool, Choice, Dict, Float, Int, List, Rule, Schema, any_of
from asdlab.nn.composite import GUIDED_ENCODERS, GuidedNet
from asdlab.nn.pairloss import PAIR_MODES, pair_loss
from asdlab.train import TrainConfig, atomic_torch_save, epoch_batches, fit
from asdlab.train.embed import embed_arrays

NAME = "guided_clustering"
ENCODERS = GUIDED_ENCODERS
CLUSTER_TRANSFORMS = ("none", "l2", "whiten_l2")

_PAPER = dict(n_mels=128, n_fft=1024, hop=512, frames=None, encoder="resnet", width=1.0, embedding_dim=128,
              batch_size=64, lr=1e-3, weight_decay=0.0,
              pretrain_rounds=500, pretrain_epochs=1, pretrain_clusters=100, pca_dim=256,
              finetune_epochs=100, pair_weight=1.0, pair_eps=0.1, pair_mode="sampled",
              n_pseudo="silhouette", n_pseudo_range=[2, 16], cluster_transform="none", cluster_pca_dim=16,
              kmeans_n_init=10, scorer_preset="paper", scorer_overrides={}, baseline=True)
_COURSE = {**_PAPER, "width": 0.25, "embedding_dim": 64, "batch_size": 32, "pretrain_rounds": 6,
           "pretrain_clusters": 32, "pca_dim": 32, "finetune_epochs": 10, "n_pseudo_range": [2, 12],
           "scorer_preset": "course"}
_SMOKE = {**_COURSE, "width": 0.125, "embedding_dim": 32, "batch_size": 16, "pretrain_rounds": 2,
          "pretrain_clusters": 4, "pca_dim": 8, "finetune_epochs": 2, "n_pseudo": 2, "n_pseudo_range": [2, 4],
          "kmeans_n_init": 3, "scorer_preset": "smoke"}
PRESETS = {"smoke": _SMOKE, "course": _COURSE, "paper": _PAPER}


def _scorer_problem(p: dict) -> str | None:
    """Why ``scorer_preset`` + ``scorer_overrides`` are no valid sc_adacos parameters, or None."""
    try:
        get_method("sc_adacos").params(p["scorer_preset"], p["scorer_overrides"])
    except ConfigError as e:
        return str(e)
    return None


SCHEMA = Schema({
    "n_mels": Int(1), "n_fft": Int(1), "hop": Int(1), "frames": Int(7, none="the most common training length"),
    "encoder": Choice(*ENCODERS), "width": Float(0, min_open=True), "embedding_dim": Int(1), "batch_size": Int(2),
    "lr": Float(0, min_open=True), "weight_decay": Float(0), "pretrain_rounds": Int(0), "pretrain_epochs": Int(1),
    "pretrain_clusters": Int(2), "pca_dim": Int(1, none="all dimensions"), "finetune_epochs": Int(0),
    "pair_weight": Float(0), "pair_eps": Float(0, min_open=True), "pair_mode": Choice(*PAIR_MODES),
    "n_pseudo": any_of(Int(1), Choice("silhouette")),
    "n_pseudo_range": List(Int(2), length=2, normalize=lambda r: [int(r[0]), int(r[1])]),
    "cluster_transform": Choice(*CLUSTER_TRANSFORMS), "cluster_pca_dim": Int(1, none="all dimensions"),
    "kmeans_n_init": Int(1), "scorer_preset": Choice(*PRESET_NAMES),
    "scorer_overrides": Dict(doc="a dict of sc_adacos parameters"), "baseline": Bool()},
    rules=(Rule("n_pseudo_range", lambda p: None if p["n_pseudo_range"][0] <= p["n_pseudo_range"][1]
                else "expected [lo, hi] with lo <= hi"),
           Rule("scorer_overrides", _scorer_problem)))


def _scorer_params(p: dict) -> dict:
    """The sc_adacos parameters of step 4, validated before any training."""
    try:
        return get_method("sc_adacos").params(p["scorer_preset"], p["scorer_overrides"])
    except ConfigError as e:
        raise ConfigError(f"scorer_overrides: {e}") from e


# ----------------------------------------------------------------------------------------------
# training


class _Recorder:
    """Per-batch loss components, averaged per epoch after :func:`asdlab.train.fit`."""

    def __init__(self):
        self.rows: list[tuple[int, dict]] = []

    def add(self, n: int, **values) -> None:
        self.rows.append((n, {k: float(v.detach()) for k, v in values.items()}))

    def per_epoch(self, n_items: int, batch_size: int) -> list[dict]:
        per = len(epoch_batches(n_items, batch_size, None))  # fit's batches per epoch
        out = []
        for start in range(0, len(self.rows), per):
            chunk = self.rows[start:start + per]
            total = sum(n for n, _ in chunk)
            out.append({k: sum(n * v[k] for n, v in chunk) / total for k in chunk[0][1]})
        self.rows = []
        return out


def _fit_last(model: GuidedNet, n: int, get_batch, loss_fn, cfg: TrainConfig, ctx: RunContext, name: str, desc: str,
              accuracy_fn=None):
    """:func:`asdlab.train.fit`, keeping the LAST epoch's weights (not the lowest-loss one)."""
    ckpt = ctx.workdir / "train_gc" / f"{name}.ckpt"
    fit(model, n, get_batch, loss_fn, cfg, device=ctx.device, checkpoint=ckpt, progress=ctx.progress, desc=desc,
        accuracy_fn=accuracy_fn)
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    model.cpu().load_state_dict(state["model"])
    ckpt.unlink()
    return state["history"]


# ----------------------------------------------------------------------------------------------
# data


class _Data:
    """Standardised log-mels of all readable clips (rows = train then test) and the machine groups."""

    def __init__(self, ctx: RunContext):
        mels = fixed_log_mels(ctx, NAME, min_frames=7)  # both encoders' minimum
        self.skipped, self.x_train, self.x_test = mels.skipped, mels.x_train, mels.x_test
        self.train_rows, self.test_rows = mels.train_rows, mels.test_rows
        self.all_rows = pd.concat([self.train_rows, self.test_rows], ignore_index=True)
        self.n_train = len(self.train_rows)
        attrs = self.train_rows["attributes"].fillna("").astype(str)
        hidden = attrs.isin(["", HIDDEN]).groupby(self.train_rows["machine"]).all()
        self.hidden = sorted(hidden.index[hidden])
        self.known = sorted(hidden.index[~hidden])

    def x_all(self) -> RowsOf:
        """The training then the test log-mels, one sequence of rows (no copy)."""
        return RowsOf(self.x_train, self.x_test)


# ----------------------------------------------------------------------------------------------
# steps 1 and 2


def _pretrain(ctx: RunContext, data: _Data, model: GuidedNet) -> list[dict]:
    """Step 1 (DeepCluster); returns history rows."""
    p = ctx.params
    x = torch.from_numpy(data.x_train)
    n = len(x)
    k = min(p["pretrain_clusters"], n)
    machine_codes = pd.factorize(data.train_rows["machine"])[0]
    history, previous = [], None
    for r in range(p["pretrain_rounds"]):
        feats = pl.WhitenL2(p["pca_dim"]).fit_transform(embed_arrays(model, data.x_train, ctx.device))
        assign, _ = pl.kmeans(feats, k, ctx.seed + r, p["kmeans_n_init"])
        sizes = np.bincount(assign, minlength=k)
        row = {"stage": "pretrain", "round": r, "nmi_prev": pl.nmi(previous, assign) if previous is not None else np.nan,
               "nmi_machine": pl.nmi(machine_codes, assign), "n_nonempty": int((sizes > 0).sum()),
               "largest_cluster": int(sizes.max())}
        previous = assign
        sample = torch.from_numpy(pl.uniform_over_clusters(assign, n, np.random.default_rng([ctx.seed, r])))
        y = torch.from_numpy(assign)
        torch.manual_seed(ctx.seed + 1000 + r)
        model.new_head(k)
        ce = nn.CrossEntropyLoss()

        def loss_fn(m, batch, ce=ce):
            xb, yb = batch
            return ce(m.head(m(xb)), yb)

        def get_batch(idx, train, sample=sample, y=y):
            return x[sample[idx]], y[sample[idx]]

        cfg = TrainConfig(epochs=p["pretrain_epochs"], batch_size=p["batch_size"], lr=p["lr"], optimizer="adam",
                          weight_decay=p["weight_decay"], val_fraction=0.0, seed=ctx.seed * 1000 + r)
        hist = _fit_last(model, n, get_batch, loss_fn, cfg, ctx, f"pretrain{r}",
                         f"DeepCluster round {r + 1}/{p['pretrain_rounds']}")
        history += [{**row, "epoch": h["epoch"], "train_loss": h["train_loss"], "ce_loss": h["train_loss"]}
                    for h in hist]
    return history


def _finetune(ctx: RunContext, data: _Data, model: GuidedNet) -> tuple[list[dict], list[str]]:
    """Step 2 (cross-entropy over attribute sub-categories + lambda * pair loss) on the machines
    with attributes; returns history rows and notes."""
    p = ctx.params
    sel = data.train_rows["machine"].isin(data.known).to_numpy()
    if p["finetune_epochs"] == 0 or not sel.any():
        why = "finetune_epochs is 0" if sel.any() else "no machine type has attributes"
        return [], [f"step 2 skipped ({why}): pseudo labels come from the pretrained network"]
    names, y = np.unique(class_names(data.train_rows[sel]).to_numpy(), return_inverse=True)
    x = torch.from_numpy(data.x_train[sel])
    y = torch.from_numpy(y.astype(np.int64))
    torch.manual_seed(ctx.seed + 2000)
    model.new_head(len(names))
    ce, rec = nn.CrossEntropyLoss(), _Recorder()

    def loss_fn(m, batch):
        xb, yb = batch
        emb = m(xb)
        la = ce(m.head(emb), yb)
        lb = pair_loss(emb, yb, eps=p["pair_eps"], mode=p["pair_mode"])
        rec.add(len(xb), ce_loss=la, pair_loss=lb)
        return la + p["pair_weight"] * lb

    cfg = TrainConfig(epochs=p["finetune_epochs"], batch_size=p["batch_size"], lr=p["lr"], optimizer="adam",
                      weight_decay=p["weight_decay"], val_fraction=0.0, seed=ctx.seed + 2000)
    def right(m, batch):  # the attribute sub-category predicted by the head, on clean clips
        xb, yb = batch
        return (m.head(m(xb)).argmax(dim=1) == yb).sum()

    hist = _fit_last(model, len(x), lambda idx, train: (x[idx], y[idx]), loss_fn, cfg, ctx, "finetune",
                     "guided fine-tuning", accuracy_fn=right)
    parts = rec.per_epoch(len(x), p["batch_size"])
    rows = [{"stage": "finetune", "epoch": h["epoch"], "train_loss": h["train_loss"], **c,
             "train_acc": h["train_acc"]} for h, c in zip(hist, parts)]
    return rows, [f"step 2: {len(names)} attribute sub-categories of {', '.join(data.known)}"]


def _network(ctx: RunContext, data: _Data) -> tuple[GuidedNet, np.ndarray | None, list[dict], list[str]]:
    """Steps 1-2, or the saved network of an interrupted run; returns the network, the
    pretrained-only embeddings of the training clips (None when resumed), history, notes."""
    p = ctx.params
    saved = ctx.workdir / "checkpoints" / "guided_net.pt"
    torch.manual_seed(ctx.seed)
    model = GuidedNet(p["encoder"], p["n_mels"], p["embedding_dim"], p["width"])
    if saved.exists():
        state = torch.load(saved, map_location="cpu", weights_only=False)
        if state["n_head"]:
            model.new_head(state["n_head"])
        model.load_state_dict(state["model"])
        return model, state.get("pretrained"), state["history"], state["notes"]
    shutil.rmtree(ctx.workdir / "train_gc", ignore_errors=True)
    history = _pretrain(ctx, data, model)
    pretrained = embed_arrays(model, data.x_train, ctx.device)
    fine, notes = _finetune(ctx, data, model)
    history += fine
    n_head = model.head.out_features if isinstance(model.head, nn.Linear) else 0
    atomic_torch_save({"model": model.state_dict(), "n_head": n_head, "history": history, "notes": notes,
                       "pretrained": pretrained}, saved)
    shutil.rmtree(ctx.workdir / "train_gc", ignore_errors=True)
    return model, pretrained, history, notes


# ----------------------------------------------------------------------------------------------
# step 3


def _transform(p: dict, train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """``cluster_transform`` fitted on ``train``, applied to ``train`` and ``others``."""
    kind = p["cluster_transform"]
    if kind == "none":
        return [train.astype(np.float64), *(o.astype(np.float64) for o in others)]
    if kind == "l2":
        f = lambda a: a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        return [f(train.astype(np.float64)), *(f(o.astype(np.float64)) for o in others)]
    w = pl.WhitenL2(p["cluster_pca_dim"]).fit(train)
    return [w.transform(train), *(w.transform(o) for o in others)]


def _nearest(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    d = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    return d.argmin(axis=1)


def _by_size(labels: np.ndarray, k: int) -> np.ndarray:
    """Old cluster id -> new id, numbered by size (largest first; ties by first occurrence)."""
    sizes = np.bincount(labels, minlength=k)
    first = np.array([np.flatnonzero(labels == c)[0] if sizes[c] else len(labels) for c in range(k)])
    order = sorted(range(k), key=lambda c: (-sizes[c], first[c]))
    mapping = np.empty(k, dtype=np.int64)
    mapping[order] = np.arange(k)
    return mapping


def cluster_machine(p: dict, train_emb: np.ndarray, test_emb: np.ndarray, seed: int,
                    k: int | None = None) -> tuple[np.ndarray, np.ndarray, int, pd.DataFrame]:
    """Step 3 for one machine: ``(train_labels (N,), test_labels (M,), k, silhouette table)``;
    ``k`` None: from ``n_pseudo`` (capped at N clips). Labels are numbered by cluster size."""
    tr, te = _transform(p, train_emb, test_emb)
    table = pd.DataFrame(columns=["k", "silhouette"])
    if k is None:
        if p["n_pseudo"] == "silhouette":
            lo, hi = p["n_pseudo_range"]
            k, table = pl.choose_n_clusters(tr, range(lo, hi + 1), seed, p["kmeans_n_init"])
        else:
            k = min(int(p["n_pseudo"]), len(tr))
    labels, centers = pl.kmeans(tr, k, seed, p["kmeans_n_init"])
    mapping = _by_size(labels, k)
    test = _nearest(te, centers) if len(te) else np.zeros(0, dtype=np.int64)
    return mapping[labels], mapping[test], int(k), table


def _pseudo_labels(ctx, data: _Data, emb: np.ndarray):
    """Step 3 for every hidden machine: (pseudo frame of training clips, label per row of
    ``all_rows`` (-1 elsewhere), k per machine, silhouette table)."""
    p = ctx.params
    machine = data.all_rows["machine"].to_numpy()
    is_train = np.arange(len(machine)) < data.n_train
    per_row = np.full(len(machine), -1, dtype=np.int64)
    ks, tables = {}, []
    for m in data.hidden:
        tr, te = (machine == m) & is_train, (machine == m) & ~is_train
        a, b, k, table = cluster_machine(p, emb[tr], emb[te], ctx.seed)
        per_row[tr], per_row[te], ks[m] = a, b, k
        tables.append(table.assign(machine=m, chosen=table["k"] == k) if len(table) else table)
    rows = data.all_rows[is_train & (per_row >= 0)]
    pseudo = rows[["file", "machine", "section", "domain"]].assign(pseudo_label=per_row[is_train & (per_row >= 0)])
    sil = pd.concat(tables, ignore_index=True) if any(len(t) for t in tables) else pd.DataFrame(
        columns=["machine", "k", "silhouette", "chosen"])
    return pseudo.reset_index(drop=True), per_row, ks, sil[["machine", "k", "silhouette", "chosen"]]


def _quality(ctx, data: _Data, pseudo: pd.DataFrame, pretrained, ks: dict, notes: list) -> list[str]:
    """cluster_quality.csv and contingency.csv against the factory's ground truth, if any."""

    if not data.hidden:
        return []
    truth = factory_ground_truth(ctx.data_root) if ctx.data_root is not None else None
    if truth is None:
        notes.append("no ground truth of the hidden attributes (only factory data has "
                     "ground_truth/clips/): cluster_quality.csv and contingency.csv not written")
        return []
    p = ctx.params
    machine = data.train_rows["machine"].to_numpy()
    mel_mean = data.x_train.mean(axis=2)  # time-averaged standardised log-mels (N, n_mels)
    extra = {}
    for name, feats in (("pretrained", pretrained), ("features", mel_mean)):
        if feats is None:
            continue
        parts = []
        for m in data.hidden:
            sel = machine == m
            lab, _, _, _ = cluster_machine(p, feats[sel], feats[sel][:0], ctx.seed, k=ks[m])
            parts.append(data.train_rows.loc[sel, ["file", "machine"]].assign(pseudo_label=lab))
        extra[name] = pd.concat(parts, ignore_index=True)
    quality, cont = pl.quality_tables(pseudo, truth, extra)
    atomic_write(ctx.workdir / pl.QUALITY_FILE, lambda fh: quality.to_csv(fh, index=False), text=True)
    atomic_write(ctx.workdir / pl.CONTINGENCY_FILE, lambda fh: cont.to_csv(fh, index=False), text=True)
    return [pl.QUALITY_FILE, pl.CONTINGENCY_FILE]


def _embeddings(data: _Data, emb: np.ndarray, per_row: np.ndarray) -> Embeddings:
    """The fine-tuned network's embeddings of every clip, classes with the pseudo classes, and
    per class the normalised mean of its normalised training embeddings."""
    rows = data.all_rows
    cls = class_names(rows).to_numpy(dtype=object)
    has = per_row >= 0
    cls[has] = [f"{m}/{s}/{pl.pseudo_attribute(k)}" for m, s, k in
                zip(rows["machine"][has], rows["section"][has], per_row[has])]
    names = sorted(set(cls[:data.n_train]))
    index = {c: i for i, c in enumerate(names)}
    class_index = np.array([index.get(c, -1) for c in cls])
    train_e = emb[:data.n_train].astype(np.float64)
    train_e = train_e / np.maximum(np.linalg.norm(train_e, axis=1, keepdims=True), 1e-12)
    centers = np.stack([train_e[class_index[:data.n_train] == i].mean(axis=0) for i in range(len(names))])
    centers = centers / np.maximum(np.linalg.norm(centers, axis=1, keepdims=True), 1e-12)
    cols = ["file", "machine", "section", "domain", "label", "split", "attributes"]
    meta = rows[cols].assign(**{"class": cls}, class_index=class_index, pseudo_label=per_row)
    return Embeddings(meta, emb, centers, names)


# ----------------------------------------------------------------------------------------------
# step 4


def pseudo_table(table: pd.DataFrame, pseudo: pd.DataFrame) -> pd.DataFrame:
    """Copy of the clip ``table`` whose training rows listed in ``pseudo`` (file, machine,
    pseudo_label) carry the attribute string ``pseudo<k>``; every other row is unchanged."""
    out = table.copy()
    key = pseudo.set_index(["file", "machine"])["pseudo_label"]
    idx = pd.MultiIndex.from_frame(out[["file", "machine"]])
    lab = key.reindex(idx).to_numpy()
    sel = (out["split"] == "train").to_numpy() & ~pd.isna(lab)
    out.loc[sel, "attributes"] = [pl.pseudo_attribute(k) for k in lab[sel]]
    return out


def _score(ctx: RunContext, name: str, table: pd.DataFrame, params: dict) -> MethodOutput:
    """sc_adacos on ``table`` in the sub-folder ``name`` of the run (with its embeddings)."""
    sub = RunContext(table=table, params=dict(params), seed=ctx.seed, workdir=ctx.workdir / name,
                     cache_dir=ctx.cache_dir, device=ctx.device, progress=ctx.progress,
                     skip_unreadable=ctx.skip_unreadable, data_root=ctx.data_root, channel=ctx.channel)
    torch.manual_seed(ctx.seed)
    out = get_method("sc_adacos").run(sub)
    e = out.embeddings
    saved = save_embeddings(sub.workdir, e.meta, e.vectors, e.centers, e.classes) if e is not None else []
    out.artifacts = [f"{name}/{a}" for a in saved + out.artifacts]
    return out


def _per_machine(scores: pd.DataFrame, protocol: str) -> tuple[dict, float]:
    from asdlab.metrics import official_score, section_metrics

    sec = section_metrics(scores, protocol)
    return {m: official_score(g, protocol) for m, g in sec.groupby("machine")}, official_score(sec, protocol)


def _gain(ctx, data: _Data, pseudo_out: MethodOutput, base_out: MethodOutput) -> list[str]:
    """metrics/table of the machine-only scorer and the pseudo-label gain files, under the data's
    protocol (:func:`asdlab.metrics.detect_protocol`), on the sections whose labels are known."""
    from asdlab.metrics import detect_protocol, labelled_sections, metrics_table, section_metrics

    folder = ctx.workdir
    base = base_out.scores
    for frame, f in ((base, "scores.csv"), (base_out.train_scores, "train_scores.csv")):
        atomic_write(folder / "machine_only" / f, lambda fh, t=frame: t.to_csv(fh, index=False), text=True)
    base, pseudo = labelled_sections(base), labelled_sections(pseudo_out.scores)
    if base.empty or pseudo.empty:
        return ["machine_only/scores.csv", "machine_only/train_scores.csv"]
    protocol = detect_protocol(ctx.table)
    sec = section_metrics(base, protocol)
    atomic_write(folder / "metrics_machine_only.csv", lambda fh: sec.to_csv(fh, index=False), text=True)
    atomic_write(folder / pl.TABLE_MACHINE_ONLY, lambda fh: metrics_table(sec, protocol).to_csv(fh), text=True)
    with_p, all_p = _per_machine(pseudo, protocol)
    without, all_b = _per_machine(base, protocol)
    rows = [{"machine": m, "hidden": m in data.hidden, "hmean_pseudo": with_p[m], "hmean_machine_only": without[m],
             "gain": with_p[m] - without[m]} for m in sorted(with_p)]
    rows.append({"machine": "All (official)", "hidden": False, "hmean_pseudo": all_p, "hmean_machine_only": all_b,
                 "gain": all_p - all_b})
    table = pd.DataFrame(rows)
    atomic_write(folder / pl.GAIN_CSV, lambda fh: table.to_csv(fh, index=False), text=True)
    summary = {"official_score": {"pseudo": all_p, "machine_only": all_b, "gain": all_p - all_b},
               "hidden_machines": data.hidden,
               "per_machine_hmean": {r["machine"]: {k: r[k] for k in ("hidden", "hmean_pseudo", "hmean_machine_only",
                                                                        "gain")} for r in rows[:-1]}}
    atomic_write_text(folder / pl.GAIN_JSON, json.dumps(summary, indent=2) + "\n")
    return ["machine_only/scores.csv", "machine_only/train_scores.csv", "metrics_machine_only.csv",
            pl.TABLE_MACHINE_ONLY, pl.GAIN_CSV, pl.GAIN_JSON]


# ----------------------------------------------------------------------------------------------


def _run(ctx: RunContext) -> MethodOutput:
    p = ctx.params
    scorer = _scorer_params(p)
    data = _Data(ctx)
    model, pretrained, history, notes = _network(ctx, data)
    emb = embed_arrays(model, data.x_all(), ctx.device)
    pseudo, per_row, ks, sil = _pseudo_labels(ctx, data, emb)
    folder = ctx.workdir
    atomic_write(folder / pl.PSEUDO_FILE, lambda fh: pseudo.to_csv(fh, index=False), text=True)
    atomic_write(folder / pl.PSEUDO_K_FILE, lambda fh: sil.to_csv(fh, index=False), text=True)
    atomic_write(folder / "history.csv", lambda fh: pd.DataFrame(history).to_csv(fh, index=False), text=True)
    artifacts = [pl.PSEUDO_FILE, pl.PSEUDO_K_FILE, "history.csv", "checkpoints/guided_net.pt"]
    if not data.hidden:
        notes.append("no machine type without attributes: nothing to pseudo-label")
    artifacts += _quality(ctx, data, pseudo, pretrained, ks, notes)

    out = _score(ctx, "scorer", pseudo_table(ctx.table, pseudo), scorer)
    artifacts += out.artifacts
    if p["baseline"]:
        base = _score(ctx, "machine_only", ctx.table, scorer)
        artifacts += base.artifacts + _gain(ctx, data, out, base)
        if out.scores["label"].isna().any():
            notes.append("test labels unknown: no metrics of the machine-only baseline, no gain files")
    else:
        notes.append("baseline=False: no machine-only scorer, no pseudo_label_gain files")
    info = {"hidden_machines": data.hidden, "machines_with_attributes": data.known, "n_pseudo": ks,
            "test_clips_assigned": "the hidden machines' test clips get the nearest cluster's label in "
                                   "embeddings.csv (pseudo_label); pseudo_labels.csv and the scorer use training clips only",
            "notes": notes}
    atomic_write_text(folder / "guided_clustering.json", json.dumps(info, indent=2) + "\n")
    artifacts.append("guided_clustering.json")
    shutil.rmtree(folder / "train_gc", ignore_errors=True)
    return MethodOutput(scores=out.scores, train_scores=out.train_scores, skipped=data.skipped,
                        artifacts=artifacts, embeddings=_embeddings(data, emb, per_row))


register(Method(NAME, "pseudo labels for machines without attributes from DeepCluster pretraining "
                "+ guided fine-tuning (CE + pair loss) + k-means, scored by sub-cluster AdaCos", PRESETS, _run,
                SCHEMA))
