"""The Noisy-ArcMix family (seed 004): STgram/TASTgram-MobileFaceNet trained with CE, ArcFace,
ArcMix or Noisy-ArcMix to classify machine x section x attribute (see
:mod:`asdlab.data.classes`), scored by the clip's own class.

One model is trained over all machine types of the dataset, as the reference does. Clips are
brought to ``seconds`` (random crop / copy-pad in training, the first ``seconds`` in scoring).
Mixup (lambda ~ Beta(alpha, alpha) per batch) mixes the waveform and the log-mel with the same
lambda and partner, as the reference, for the losses defined on mixed batches (ArcMix,
Noisy-ArcMix); CE and ArcFace train on clean batches. The best epoch is chosen by the
(margin) cross-entropy of a held-out ``val_fraction`` of the TRAINING clips.

Scores (higher = more anomalous), ``backend``:
``"logsoftmax"``: minus the log-softmax with margin at the clip's class (the reference);
``"cosine"``: 1 - cosine between the embedding and its class center.
A test clip whose class never occurs in training (anonymised evaluation files, an unseen
attribute combination) gets the lowest score over the classes of its machine and section,
i.e. it is scored against the class it resembles most.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from asdlab.data.audio import fix_length, read_many
from asdlab.data.classes import encode_classes
from asdlab.core.errors import ConfigError, DataError
from asdlab.features import LogMelParams, log_mel
from asdlab.methods import Embeddings, Method, MethodOutput, RunContext, clip_meta, finish, register
from asdlab.nn.frontends import STgram, TASTgram
from asdlab.nn.margins import LOSSES, MIXUP_LOSSES, cosine_distance_to_center, neg_log_softmax_score
from asdlab.nn.mixup import mixup_batch
from asdlab.nn.mobilefacenet import GramMFN
from asdlab.train import TrainConfig, atomic_torch_save, fit, resolve_device

FRONTENDS = {"stgram": STgram, "tastgram": TASTgram}
BACKENDS = ("logsoftmax", "cosine")

# The reference hyperparameters (paper preset); smaller presets change size and schedule only.
_PAPER = dict(n_fft=2048, hop=512, n_mels=128, tgram_win=1024, width=1.0, embedding_dim=128,
              s=30.0, m=0.7, alpha=0.5, epochs=300, batch_size=64, lr=1e-4, min_lr=1e-5,
              weight_decay=0.01, val_fraction=0.05, seconds=10.0, backend="logsoftmax")
_COURSE = {**_PAPER, "width": 0.25, "epochs": 12, "batch_size": 32, "lr": 2e-3, "min_lr": 1e-4,
           "val_fraction": 0.1, "seconds": 4.0}
_SMOKE = {**_COURSE, "width": 0.125, "epochs": 2, "batch_size": 16, "seconds": 1.0}


def _presets(frontend: str, loss: str) -> dict:
    fixed = {"frontend": frontend, "loss": loss, **({"n_fft": 1024} if frontend == "stgram" else {})}
    return {name: {**base, **fixed} for name, base in
            (("smoke", _SMOKE), ("course", _COURSE), ("paper", _PAPER))}


def build_model(p: dict, n_classes: int) -> GramMFN:
    """The front end + MobileFaceNet + cosine head described by params ``p``."""
    mel = LogMelParams(n_fft=p["n_fft"], hop=p["hop"], n_mels=p["n_mels"])
    frontend = FRONTENDS[p["frontend"]](mel, tgram_win_length=p["tgram_win"])
    return GramMFN(frontend, n_classes, width=p["width"], embedding_dim=p["embedding_dim"])


def _waves(rows: pd.DataFrame, ctx: RunContext) -> tuple[list[np.ndarray], pd.DataFrame, list]:
    waves, skipped = read_many(list(rows["path"]), skip_unreadable=ctx.skip_unreadable)
    bad = {str(p) for p, _ in skipped}
    keep = ~rows["path"].astype(str).isin(bad).to_numpy()
    return waves, rows[keep].reset_index(drop=True), skipped


def _loss_fn(p: dict, mel: LogMelParams):
    loss, mixup = LOSSES[p["loss"]], p["loss"] in MIXUP_LOSSES

    def compute(model: GramMFN, batch) -> torch.Tensor:
        wave, y = batch
        logmel = log_mel(wave, mel)
        y_a, y_b, lam = y, y, 1.0
        if model.training and mixup:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,))))  # seeded per epoch by fit
            wave, logmel, y_a, y_b, lam = mixup_batch(wave, logmel, y, p["alpha"], rng)
        return loss(model.head, model(wave, logmel), y_a, y_b, lam, s=p["s"], m=p["m"])
    return compute


def _batch_getter(waves: list[np.ndarray], labels: np.ndarray, n_samples: int):
    y = torch.tensor(labels, dtype=torch.int64)

    def get(idx: torch.Tensor, train: bool):
        if train:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,))))
            clips = [fix_length(waves[i], n_samples, "random", rng) for i in idx.tolist()]
        else:
            clips = [fix_length(waves[i], n_samples, "fixed") for i in idx.tolist()]
        return torch.from_numpy(np.stack(clips)), y[idx]
    return get


@torch.no_grad()
def embed(model: GramMFN, waves: list[np.ndarray], n_samples: int, device: str = "cpu",
          batch_size: int = 64) -> np.ndarray:
    """Embeddings ``(N, embedding_dim)`` of clips brought to ``n_samples`` (fixed crop)."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    out = []
    for start in range(0, len(waves), batch_size):
        batch = np.stack([fix_length(w, n_samples, "fixed") for w in waves[start:start + batch_size]])
        out.append(model(torch.from_numpy(batch).to(dev)).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.head.weight.shape[1]), np.float32)


@torch.no_grad()
def class_scores(model: GramMFN, emb: np.ndarray, class_index: np.ndarray, p: dict,
                 candidates: list[np.ndarray]) -> np.ndarray:
    """Score of each embedding at its class; rows with class -1 take the minimum over their
    ``candidates`` (the class indices of their machine and section)."""
    head = model.head.cpu()
    e = torch.from_numpy(emb)

    def at(labels: np.ndarray) -> np.ndarray:
        y = torch.from_numpy(labels)
        if p["backend"] == "cosine":
            return cosine_distance_to_center(head, e, y).numpy()
        return neg_log_softmax_score(head, e, y, p["s"], p["m"]).numpy()

    scores = at(np.maximum(class_index, 0))
    unknown = np.flatnonzero(class_index < 0)
    if len(unknown) == 0:
        return scores
    if any(len(candidates[i]) == 0 for i in unknown):
        raise DataError("a test clip's class is unknown and its machine and section have no "
                        "class in training")
    needed = np.unique(np.concatenate([candidates[i] for i in unknown]))
    per_class = {int(k): at(np.full(len(emb), k)) for k in needed}
    for i in unknown:
        scores[i] = min(per_class[int(k)][i] for k in candidates[i])
    return scores


def _run(ctx: RunContext) -> MethodOutput:
    p = ctx.params
    if p["backend"] not in BACKENDS:
        raise ConfigError(f"unknown backend {p['backend']!r}; choose from {', '.join(BACKENDS)}")
    table = ctx.table
    train_w, train_rows, skipped = _waves(table[table["split"] == "train"], ctx)
    test_w, test_rows, skipped_test = _waves(table[table["split"] == "test"], ctx)
    classes, y_train, y_test = encode_classes(train_rows, test_rows)
    n_samples = int(round(p["seconds"] * 16000))
    torch.manual_seed(ctx.seed)
    model = build_model(p, len(classes))
    cfg = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"],
                      optimizer="adamw", weight_decay=p["weight_decay"], schedule="cosine",
                      min_lr=p["min_lr"], val_fraction=p["val_fraction"], seed=ctx.seed)
    mel = LogMelParams(n_fft=p["n_fft"], hop=p["hop"], n_mels=p["n_mels"])
    result = fit(model, len(train_w), _batch_getter(train_w, y_train, n_samples), _loss_fn(p, mel),
                 cfg, device=ctx.device, checkpoint=ctx.workdir / "train.ckpt",
                 progress=ctx.progress, desc=f"{p['frontend']}-{p['loss']}")
    model.cpu()
    atomic_torch_save(model.state_dict(), ctx.workdir / "checkpoints" / "model.pt")
    (ctx.workdir / "train.ckpt").unlink(missing_ok=True)
    pd.DataFrame(result.history).to_csv(ctx.workdir / "history.csv", index=False)

    emb_train = embed(model, train_w, n_samples, ctx.device)
    emb_test = embed(model, test_w, n_samples, ctx.device)
    section_classes = {}
    for k, c in enumerate(classes):
        section_classes.setdefault(tuple(c.split("/")[:2]), []).append(k)
    cand = [np.array(section_classes.get((m, s), []), dtype=np.int64)
            for m, s in zip(test_rows["machine"], test_rows["section"])]
    s_train = class_scores(model, emb_train, y_train, p, [np.array([], np.int64)] * len(y_train))
    s_test = class_scores(model, emb_test, y_test, p, cand)

    meta = pd.concat([clip_meta(train_rows, classes, y_train), clip_meta(test_rows, classes, y_test)],
                     ignore_index=True)
    emb = Embeddings(meta, np.concatenate([emb_train, emb_test]), model.head.centers().detach().numpy(), classes)
    return finish(train_rows, test_rows, s_train, s_test, embeddings=emb, skipped=skipped + skipped_test,
                  artifacts=["history.csv"])


_SUMMARIES = {
    ("stgram", "arcface"): "STgram-MFN (Sgram + Tgram, MobileFaceNet) with ArcFace",
    ("tastgram", "ce"): "TASTgram-MFN with softmax cross-entropy on cosine logits",
    ("tastgram", "arcface"): "TASTgram-MFN with ArcFace (s 30, m 0.7)",
    ("tastgram", "arcmix"): "TASTgram-MFN with ArcMix (margin on both mixup labels, two passes)",
    ("tastgram", "noisy_arcmix"): "TASTgram-MFN with Noisy-ArcMix (one pass, margin on the un-permuted label)",
}
for (_fe, _loss), _summary in _SUMMARIES.items():
    register(Method(f"{_fe}_{_loss}", _summary, _presets(_fe, _loss), _run))
