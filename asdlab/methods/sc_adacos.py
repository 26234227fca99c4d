"""Sub-cluster AdaCos with GMM back ends (seed 002, Wilkinghoff DCASE2021): method ``sc_adacos``.

A modified ResNet on standardised log-mels ``(B, n_mels, frames)`` with one or two sub-cluster
AdaCos heads (machine/section, attributes), an ensemble over ``ks`` and snapshots; embeddings
``(N, embedding_dim)`` scored by the k-means back end (default), the paper's GMMs (eq. 2-4) or the
cosine back end; decisions per machine, section and domain. Pipeline, parameters and presets: ``docs/methods/sc_adacos.md``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from asdlab.core.atomic import atomic_write, atomic_write_text
from asdlab.data.classes import class_names
from asdlab.core.errors import ConfigError, DataError
from asdlab.backends.gmm import SectionGMMs, TemporalMaxGMMs, combine_terms, temporal_max
from asdlab.backends.kmeans import score_sections
from asdlab.methods import Embeddings, Method, MethodOutput, RunContext, clip_meta, finish, register, score_frame
from asdlab.features.frames import RowsOf
from asdlab.methods.pipeline import fixed_log_mels
from asdlab.features.cache import file_key
from asdlab.core.schema import Bool, Choice, Dict, Float, Int, List, Schema, Str, any_of
from asdlab.nn.adacos import ANGLE_RULES, mixup_reversed
from asdlab.nn.composite import SubClusterAdaCosNet
from asdlab.train import TrainConfig, atomic_torch_save, fit
from asdlab.train.embed import embed_arrays
from asdlab.train.model_cache import compute_key, model_key

BACKENDS = ("kmeans", "gmm", "cosine")
DOMAIN_RULES = ("clip", "min")
HEADS = ("two", "one", "both")
PAPER_HEAD_CHOICE = {"ToyCar": "two", "ToyTrain": "two", "pump": "two", "slider": "two",
                     "fan": "one", "gearbox": "one", "valve": "one"}
"""Seed 002 section 2.5: which ensemble the paper used per machine type (others: two heads)."""

_PAPER = dict(n_mels=128, n_fft=1024, hop=512, frames=None, width=1.0, embedding_dim=128,
              heads="both", head_choice="paper", ks=[1, 2, 4, 8, 16], epochs=400,
              snapshot_every=100, batch_size=64, lr=1e-3, weight_decay=2e-5, mixup=True,
              trainable_centers=True, angle="reference", backend="kmeans", reg_covar=1e-3,
              gmm_weighted=True, tmax_machines=[], domain_rule="clip", threshold_q=90.0, n_clusters=16)
_COURSE = {**_PAPER, "width": 0.25, "heads": "two", "ks": [2, 4], "epochs": 16, "snapshot_every": 8,
           "batch_size": 32}
_SMOKE = {**_COURSE, "width": 0.125, "ks": [2], "epochs": 2, "snapshot_every": 1, "batch_size": 16}
PRESETS = {"smoke": _SMOKE, "course": _COURSE, "paper": _PAPER}
SCHEMA = Schema({
    "n_mels": Int(1), "n_fft": Int(1), "hop": Int(1), "frames": Int(7, none="the most common training length"),
    "width": Float(0, min_open=True), "embedding_dim": Int(1), "heads": Choice(*HEADS),
    "head_choice": any_of(Choice("paper", "oracle"), Dict(Choice("one", "two"), doc="a dict {machine: 'one' | 'two'}")),
    "ks": List(Int(1), min_length=1, scalar=True, normalize=lambda ks: sorted(set(ks))),
    "epochs": Int(1), "snapshot_every": Int(0, none="the last epoch only, as 0"), "batch_size": Int(1),
    "lr": Float(0, min_open=True), "weight_decay": Float(0), "mixup": Bool(), "trainable_centers": Bool(),
    "angle": Choice(*ANGLE_RULES), "backend": Choice(*BACKENDS), "reg_covar": Float(0), "gmm_weighted": Bool(),
    "tmax_machines": List(Str(), sep=",", none="none", normalize=lambda ms: sorted(ms or [])),
    "domain_rule": Choice(*DOMAIN_RULES), "threshold_q": Float(0, 100), "n_clusters": Int(1)})


def snapshot_epochs(epochs: int, every: int | None) -> list[int]:
    """Epoch counts after which the ensemble takes a snapshot: every ``every`` epochs and the
    last one (``every`` 0/None: the last only). ``(400, 100) -> [100, 200, 300, 400]``."""
    every = every or epochs
    return sorted({*range(every, epochs + 1, every), epochs})


# ----------------------------------------------------------------------------------------------
# data


def _one_hot(index: np.ndarray, n: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.from_numpy(index), n).float()


class _Data:
    """Everything the members share: inputs, labels, groups (rows = train then test)."""

    def __init__(self, ctx: RunContext):
        mels = fixed_log_mels(ctx, "sc_adacos", min_frames=7)  # the modified ResNet's minimum
        self.mean, self.std, self.x_train, self.x_test = mels.mean, mels.std, mels.x_train, mels.x_test
        self.skipped, self.train_rows, self.test_rows = mels.skipped, mels.train_rows, mels.test_rows
        all_rows = pd.concat([self.train_rows, self.test_rows], ignore_index=True)
        self.n_train = len(self.train_rows)
        self.section = (all_rows["machine"] + "/" + all_rows["section"].astype(str)).to_numpy()
        self.attribute = class_names(all_rows).to_numpy()
        self.domain = all_rows["domain"].to_numpy(dtype=object)
        self.machine = all_rows["machine"].to_numpy(dtype=object)
        train_sec, train_att = self.section[:self.n_train], self.attribute[:self.n_train]
        self.section_names = sorted(set(train_sec))
        self.attribute_names = sorted(set(train_att))
        unknown = sorted(set(self.section[self.n_train:]) - set(self.section_names))
        if unknown:
            raise DataError(f"test clips of {', '.join(unknown)} have no training clips in their "
                            "machine/section: sub-cluster AdaCos cannot score them")
        if len(self.section_names) < 2:
            raise ConfigError(f"sc_adacos classifies machine/section and needs at least 2 of them "
                              f"in training, found only {self.section_names[0]!r}: add machine types "
                              "or sections")
        sec_index = {c: i for i, c in enumerate(self.section_names)}
        att_index = {c: i for i, c in enumerate(self.attribute_names)}
        self.section_index = np.array([sec_index[c] for c in self.section])
        self.attribute_index = np.array([att_index.get(c, -1) for c in self.attribute])
        self.labels = [_one_hot(self.section_index[:self.n_train], len(self.section_names)),
                       _one_hot(self.attribute_index[:self.n_train], len(self.attribute_names))]
        self.tmax = np.concatenate([temporal_max(self.x_train), temporal_max(self.x_test)])

    def n_classes(self, n_heads: int) -> list[int]:
        return [len(self.section_names), len(self.attribute_names)][:n_heads]


# ----------------------------------------------------------------------------------------------
# training


def _loss_fn(mixup: bool):
    def compute(model: SubClusterAdaCosNet, batch) -> torch.Tensor:
        x, *targets = batch
        if model.training and mixup:
            x, targets, _ = mixup_reversed(x, list(targets))
        emb = model(x)
        return sum(head.loss(emb, y) for head, y in zip(model.heads, targets))
    return compute


def _right(model: SubClusterAdaCosNet, batch) -> torch.Tensor:
    """Right predictions of the member's finest head (attributes when it has two heads, else
    machine/section) on a clean batch."""
    x, *targets = batch
    return (model.heads[-1](model(x)).argmax(dim=1) == targets[len(model.heads) - 1].argmax(dim=1)).sum()


_TRAIN_KEYS = ("n_mels", "n_fft", "hop", "frames", "width", "embedding_dim", "epochs", "snapshot_every",
               "batch_size", "lr", "weight_decay", "mixup", "trainable_centers", "angle")
"""The parameters a member's trained weights depend on (the back end and scoring ones do not)."""


def member_cache(ctx: RunContext, data: _Data, n_heads: int, k: int) -> Path:
    """The model-cache folder of one ensemble member: ``<cache>/models/sc_adacos/<key>``, the key
    holding the training files (as they are now), their labels of the member's heads, the
    training parameters (:data:`_TRAIN_KEYS`), ``n_heads``, ``k``, the seed and the compute
    (:func:`asdlab.train.model_cache.compute_key`). A run on the same training data with another
    back end, another ``ks`` containing ``k`` or other test clips reuses the member; so does
    guided clustering's machine-only scorer, which is this method on the same table."""
    p = ctx.params
    labels = [data.section[:data.n_train], data.attribute[:data.n_train]][:n_heads]
    channel = {} if ctx.channel == 0 else {"channel": ctx.channel}
    key = model_key({"params": {name: p[name] for name in _TRAIN_KEYS}, "n_heads": n_heads, "k": k,
                     "seed": ctx.seed, "files": [file_key(f) for f in data.train_rows["path"]],
                     "labels": [list(map(str, y)) for y in labels], **channel,
                     "compute": compute_key(ctx.device)})
    return ctx.cache_dir / "models" / "sc_adacos" / key


def _train_member(ctx: RunContext, data: _Data, n_heads: int, k: int, on_snapshot) -> list[dict]:
    """Train one ensemble member (``n_heads`` heads, ``k`` sub-clusters), calling
    ``on_snapshot(model, tag, epochs)`` after every snapshot epoch that has no saved result yet
    (it must write :func:`_snapshot_file`); returns the loss history. Resumable: snapshots whose
    file exists are skipped and training continues from the member's checkpoint. The weights of
    every snapshot and the history go to the model cache (:func:`member_cache`, the history
    last); a member found there complete is not trained again."""
    p = ctx.params
    tag = f"{'two' if n_heads == 2 else 'one'}_k{k}"
    torch.manual_seed(ctx.seed)
    model = SubClusterAdaCosNet(data.n_classes(n_heads), k, p["n_mels"], p["embedding_dim"], p["width"],
                                p["trainable_centers"], p["angle"])
    ckpt = ctx.workdir / "train" / f"{tag}.ckpt"
    cache = member_cache(ctx, data, n_heads, k)
    snaps = snapshot_epochs(p["epochs"], p["snapshot_every"])
    weights = {e: cache / f"e{e:05d}.pt" for e in snaps}
    saved = ctx.workdir / "snapshots" / f"{tag}_history.json"
    if (cache / "history.json").exists() and all(f.exists() for f in weights.values()):
        for epochs in snaps:
            if not _snapshot_file(ctx, tag, epochs).exists():
                model.load_state_dict(torch.load(weights[epochs], map_location="cpu"))
                on_snapshot(model, tag, epochs)
        (ctx.workdir / "checkpoints").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(weights[snaps[-1]], ctx.workdir / "checkpoints" / f"{tag}.pt")
        history = json.loads((cache / "history.json").read_text())
        atomic_write_text(saved, json.dumps(history))
        shutil.rmtree(ctx.workdir / "train", ignore_errors=True)
        return [{"member": tag, **h} for h in history]
    x = torch.from_numpy(data.x_train)
    labels = data.labels[:n_heads]
    history: list[dict] = []
    for epochs in snaps:
        if _snapshot_file(ctx, tag, epochs).exists():
            continue
        cfg = TrainConfig(epochs=epochs, batch_size=p["batch_size"], lr=p["lr"], optimizer="adam",
                          weight_decay=p["weight_decay"], val_fraction=0.0, seed=ctx.seed)
        fit(model, len(x), lambda idx, train: (x[idx], *(y[idx] for y in labels)), _loss_fn(p["mixup"]),
            cfg, device=ctx.device, checkpoint=ckpt, progress=ctx.progress, desc=f"SC-AdaCos {tag}",
            accuracy_fn=_right)
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.cpu().load_state_dict(state["model"])  # the last epoch, not fit's lowest-loss one
        history = state["history"]
        atomic_torch_save(state["model"], weights[epochs])
        on_snapshot(model, tag, epochs)
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        atomic_torch_save(state["model"], ctx.workdir / "checkpoints" / f"{tag}.pt")
        atomic_write_text(saved, json.dumps(state["history"]))
        if all(f.exists() for f in weights.values()):
            atomic_write_text(cache / "history.json", json.dumps(state["history"]))
        ckpt.unlink()
    history = json.loads(saved.read_text()) if saved.exists() else history
    return [{"member": tag, **h} for h in history]


def _snapshot_file(ctx: RunContext, tag: str, epochs: int):
    return ctx.workdir / "snapshots" / f"{tag}_e{epochs:05d}.npz"


# ----------------------------------------------------------------------------------------------
# scoring


def _normalized(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)


def gmm_terms(data: _Data, emb: np.ndarray, centers: list[np.ndarray], p: dict, seed: int) -> dict[str, np.ndarray]:
    """Eq. 2-3 terms ``section``, ``attribute``, ``target`` for every row (train then test) from
    the embeddings ``emb`` and the heads' sub-cluster centers (``[(C1, K, D)]`` or with the
    attribute head ``[(C1, K, D), (C2, K, D)]``), one :class:`SectionGMMs` per section."""
    n = len(emb)
    out = {t: np.full(n, np.nan) for t in ("section", "attribute", "target")}
    train = np.arange(n) < data.n_train
    for c, name in enumerate(data.section_names):
        rows = data.section == name
        src = rows & train & (data.domain != "target")
        tgt = rows & train & (data.domain == "target")
        if not src.any():
            raise DataError(f"{name}: no source-domain training clips for the section GMM")
        if not tgt.any() and (rows & ~train & (data.domain == "target")).any():
            raise DataError(f"{name}: target-domain test clips but no target-domain training clips "
                            "for the target GMM of eq. 3 (use backend='cosine')")
        att_means = None
        if len(centers) > 1:
            att_means = {a: centers[1][data.attribute_names.index(a)] for a in set(data.attribute[src])}
        gmms = SectionGMMs(p["reg_covar"], p["gmm_weighted"], seed).fit(
            emb[src], data.attribute[src], emb[tgt], centers[0][c], att_means)
        for t, v in gmms.terms(emb[rows]).items():
            out[t][rows] = v
    return out


def cosine_terms(data: _Data, emb: np.ndarray, centers: list[np.ndarray]) -> dict[str, np.ndarray]:
    """``section``: ``1 - max cos`` to the clip's machine/section sub-clusters; ``attribute``
    (two heads): the smallest such distance over the attribute classes of its section, else 0;
    ``target``: NaN (unused)."""
    e = _normalized(emb.astype(np.float64))
    sec = _normalized(centers[0].astype(np.float64))  # (C1, K, D)
    out = {"section": 1 - np.einsum("nd,nkd->nk", e, sec[data.section_index]).max(axis=1),
           "attribute": np.zeros(len(e)), "target": np.full(len(e), np.nan)}
    if len(centers) > 1:
        att = _normalized(centers[1].astype(np.float64))
        dist = 1 - np.einsum("nd,ckd->nck", e, att).max(axis=2)  # (N, C2)
        of = dict(zip(data.attribute[:data.n_train], data.section[:data.n_train]))
        att_section = np.array([of[a] for a in data.attribute_names])
        for name in data.section_names:
            rows = data.section == name
            out["attribute"][rows] = dist[np.ix_(rows, att_section == name)].min(axis=1)
    return out


def kmeans_terms(data: _Data, emb: np.ndarray, n_clusters: int, seed: int) -> dict[str, np.ndarray]:
    """``section``: the k-means cosine distance of every row (train then test) to the nearest
    of its section's source centroids and target training clips
    (:func:`asdlab.backends.kmeans.score_sections`; the clip's domain is never read);
    ``attribute``: 0; ``target``: NaN (unused)."""
    n = data.n_train
    s = score_sections(emb[:n], data.train_rows, emb[n:], data.test_rows, n_clusters, seed)
    return {"section": np.concatenate([s["train"], s["test"]]), "attribute": np.zeros(len(emb)),
            "target": np.full(len(emb), np.nan)}


def _tmax_terms(data: _Data, p: dict, seed: int) -> np.ndarray:
    """Eq. 4's term for the rows of the machines in ``tmax_machines``, 0 elsewhere."""
    term = np.zeros(len(data.section))
    train = np.arange(len(term)) < data.n_train
    for name in data.section_names:
        rows = data.section == name
        if data.machine[rows][0] not in p["tmax_machines"]:
            continue
        src = rows & train & (data.domain != "target")
        g = TemporalMaxGMMs(p["reg_covar"], seed).fit(data.tmax[src], data.attribute[src])
        term[rows] = g.term(data.tmax[rows])
    return term


def member_scores(terms: dict[str, np.ndarray], domain, backend: str = "gmm",
                  tmax: np.ndarray | None = None, rule: str = "clip") -> tuple[np.ndarray, np.ndarray]:
    """``(score, decision_score)`` of every row from one member's terms (see :func:`gmm_terms`)
    and the rows' ``domain``.

    GMM back end, ``rule="clip"`` (the paper): eq. 2 (+ eq. 4's ``tmax``) for rows whose domain
    is not "target", eq. 3 for "target" rows (:func:`asdlab.backends.gmm.combine_terms`).
    ``rule="min"``: ``section + min(attribute + tmax, target)`` for every row, whatever its
    domain: the clip is scored by whichever of the source attribute GMMs and the target GMM
    explains it better (not in the paper; for data whose metrics mix the domains, as DCASE
    2022 onwards do, and for test clips whose domain is unknown). The decision score follows the
    paper whatever the rule: the score of eq. 2 for source rows, the section term alone for
    target rows (seed 002 section 2.6). Cosine and k-means back ends: section + attribute
    distance for every row, whatever its domain.
    """
    if backend in ("cosine", "kmeans"):
        s = terms["section"] + terms["attribute"]
        return s, s
    if rule not in DOMAIN_RULES:
        raise ConfigError(f"unknown domain_rule {rule!r}; choose from {', '.join(DOMAIN_RULES)}")
    domain = np.asarray(domain, dtype=object)
    paper = combine_terms(terms, domain, tmax)
    decision = np.where(domain == "target", terms["section"], paper)
    if rule == "clip":
        return paper, decision
    source = terms["attribute"] + (0.0 if tmax is None else tmax)
    target = np.where(np.isnan(terms["target"]), source, terms["target"])
    return terms["section"] + np.minimum(source, target), decision


def choose_heads(head_choice, machines, test_rows: pd.DataFrame | None = None,
                 test_scores: dict[str, np.ndarray] | None = None) -> dict[str, str]:
    """Machine -> ``"one"`` / ``"two"``: which ensemble scores each machine type when both are
    trained. ``head_choice``: ``"paper"`` (:data:`PAPER_HEAD_CHOICE`, "two" for machines it does
    not name), a dict (missing machines: "two"), or ``"oracle"``: the ensemble with the higher
    official score of the machine on ``test_rows`` (labelled) scored by ``test_scores[h]``;
    ties go to "two"."""
    machines = sorted(set(machines))
    if isinstance(head_choice, dict):
        return {m: head_choice.get(m, "two") for m in machines}
    if head_choice == "paper":
        return {m: PAPER_HEAD_CHOICE.get(m, "two") for m in machines}
    if test_rows is None or test_rows["label"].isna().any():
        raise ConfigError("head_choice='oracle' needs test labels; this dataset has unlabelled test "
                          "clips (use head_choice='paper' or a dict)")
    from asdlab.metrics import official_score, section_metrics  # a leaf module; only the oracle needs it

    out = {}
    for m in machines:
        sel = (test_rows["machine"] == m).to_numpy()
        best = {h: official_score(section_metrics(score_frame(test_rows[sel], test_scores[h][sel])))
                for h in ("two", "one")}
        out[m] = "one" if best["one"] > best["two"] else "two"
    return out


def _run(ctx: RunContext) -> MethodOutput:
    p = ctx.params
    data = _Data(ctx)
    configs = {"two": [2], "one": [1], "both": [2, 1]}[p["heads"]]
    tmax = _tmax_terms(data, p, ctx.seed)
    n_rows = len(data.section)
    results, members, histories = {}, [], []
    primary = None

    for n_heads in configs:
        h = "two" if n_heads == 2 else "one"
        acc = {"score": np.zeros(n_rows), "decision": np.zeros(n_rows),
               **{t: np.zeros(n_rows) for t in ("section", "attribute", "target")}}

        def on_snapshot(model, tag, epochs, n_heads=n_heads):
            emb = embed_arrays(model, RowsOf(data.x_train, data.x_test), ctx.device,
                               embedding_dim=p["embedding_dim"])
            centers = [hd.class_centers().detach().cpu().numpy() for hd in model.heads]
            if p["backend"] == "gmm":
                terms = gmm_terms(data, emb, centers, p, ctx.seed)
            elif p["backend"] == "kmeans":
                terms = kmeans_terms(data, emb, p["n_clusters"], ctx.seed)
            else:
                terms = cosine_terms(data, emb, centers)
            score, decision = member_scores(terms, data.domain, p["backend"], tmax, p["domain_rule"])
            extra = {"embeddings": emb, **{f"centers{i}": c for i, c in enumerate(centers)}}
            f = _snapshot_file(ctx, tag, epochs)
            atomic_write(f, lambda fh: np.savez(fh, score=score, decision=decision, **terms, **extra))

        for k in p["ks"]:
            histories += _train_member(ctx, data, n_heads, k, on_snapshot)
            tag = f"{h}_k{k}"
            for epochs in snapshot_epochs(p["epochs"], p["snapshot_every"]):
                snap = np.load(_snapshot_file(ctx, tag, epochs))
                for key in acc:
                    acc[key] += snap[key]
                members.append({"heads": h, "k": k, "epochs": epochs})
                if primary is None or primary[0] == h:
                    primary = (h, k, epochs, snap["embeddings"], [snap[f"centers{i}"] for i in range(n_heads)])
        results[h] = acc

    if p["heads"] == "both":
        choice = choose_heads(p["head_choice"], data.machine, data.test_rows,
                              {hh: r["score"][data.n_train:] for hh, r in results.items()})
        pick = np.array([choice[m] for m in data.machine])
        final = {key: np.where(pick == "two", results["two"][key], results["one"][key]) for key in ("score", "decision")}
    else:
        choice = {m: p["heads"] for m in sorted(set(data.machine))}
        final = results[p["heads"]]

    artifacts, emb = _save_artifacts(ctx, data, results, members, histories, primary, choice, tmax)
    nt = data.n_train
    return finish(data.train_rows, data.test_rows, final["score"][:nt], final["score"][nt:],
                  decisions="section_domain_percentile", q=p["threshold_q"],
                  decision_scores=(final["decision"][:nt], final["decision"][nt:]),
                  embeddings=emb, skipped=data.skipped, artifacts=artifacts)


def _save_artifacts(ctx, data: _Data, results, members, histories, primary, choice,
                    tmax) -> tuple[list[str], Embeddings]:
    """The run folder's extras (docs/methods/sc_adacos.md) and the primary member's :class:`Embeddings`."""
    folder = ctx.workdir
    h, k, epochs, emb, centers = primary
    all_rows = pd.concat([data.train_rows, data.test_rows], ignore_index=True)
    if h == "two":
        names, index, sub = data.attribute_names, data.attribute_index, centers[1]
    else:
        names, index, sub = data.section_names, data.section_index, centers[0]
    emb = Embeddings(clip_meta(all_rows, names, index), emb, _normalized(sub.mean(axis=1)), names)
    atomic_write(folder / "subcluster_centers.npy", lambda fh: np.save(fh, sub.astype(np.float32)))
    atomic_write(folder / "checkpoints" / "normalization.npz",
                 lambda fh: np.savez(fh, mean=data.mean, std=data.std))
    ens = pd.DataFrame(members).assign(used_for=lambda t: [
        ", ".join(sorted(m for m, c in choice.items() if c == hh)) for hh in t["heads"]])
    ens.insert(3, "primary", [(r.heads, r.k, r.epochs) == (h, k, epochs) for r in ens.itertuples()])
    atomic_write(folder / "ensemble.csv", lambda fh: ens.to_csv(fh, index=False), text=True)
    terms = pd.concat([all_rows[["file", "machine", "section", "domain", "split"]].assign(
        heads=hh, section_term=r["section"], attribute_term=r["attribute"], target_term=r["target"],
        tmax_term=tmax) for hh, r in results.items()], ignore_index=True)
    atomic_write(folder / "score_terms.csv", lambda fh: terms.to_csv(fh, index=False), text=True)
    atomic_write(folder / "history.csv", lambda fh: pd.DataFrame(histories).to_csv(fh, index=False), text=True)
    shutil.rmtree(folder / "snapshots", ignore_errors=True)
    shutil.rmtree(folder / "train", ignore_errors=True)
    return ["subcluster_centers.npy", "ensemble.csv", "score_terms.csv", "history.csv"], emb


register(Method("sc_adacos", "sub-cluster AdaCos (modified ResNet, 1-2 heads, K ensemble), k-means "
                "scoring per member (the paper's GMM source/target back ends one option away)", PRESETS, _run, SCHEMA))
