"""AutoEncoder + EfficientNet trained jointly with a contrastive loss (seed 003, Small Rice
DCASE2021): method ``contrastive_ae_cnn``.

Pipeline (``shared/METHODS.md`` section 8):

1. Log-mels (128 mels, 64 ms window = n_fft 1024, 32 ms hop = 512 samples at 16 kHz, dB; from
   the feature cache). ``median_filter``: ``"smooth"`` replaces every value by the median of a
   ``median_window`` (30) frame window along time in its mel band (:func:`median_filter_time`),
   ``"subtract"`` keeps the residual ``x - median`` instead, None skips it. The paper filters to
   "reduce distracting [short-time] noise", i.e. it keeps the median (smoothing); so does the
   public Small Rice code (a 1 x 31 median pool with reflect padding). Then every mel bin is
   standardised with the mean and standard deviation of all training frames (not in the
   paper, which is silent on normalisation).
2. One network (:class:`ContrastiveAECNN`): an EfficientNet-B0-style CNN
   (:mod:`asdlab.nn.efficientnet`: one input channel, global average + max pooling) with a
   linear classifier over the classes; the AutoEncoder of seed 003 Table 2 (5 frames x 128 mels
   = 640 -> 4 x 128 -> 32 -> 4 x 128 -> 640, :class:`asdlab.nn.ae.DenseAutoEncoder`); and the
   projector of :mod:`asdlab.nn.contrastive` (one linear map per branch to 256, a shared MLP
   with one hidden layer to 256).
3. Pairing (the paper does not say how the AE's 5-frame vectors and the CNN's input of one clip
   meet): segment level. A training item is a segment of ``segment_frames`` frames of a clip
   (None: the whole clip, as the paper's 128 x 311 CNN input). The CNN classifies the segment;
   the AE reconstructs every 5-frame vector of the same segment; the AE's bottleneck codes are
   averaged over the segment into one 32-d vector, which is the positive partner of the CNN's
   pooled features in the InfoNCE loss (temperature 0.07; negatives: the other segments of the
   batch, one segment per clip). Loss = MSE + CE + ``contrastive_weight`` x InfoNCE (paper:
   weight 1; the public code uses 0.0005 with a SupCon loss). InfoNCE direction and denominator:
   see :mod:`asdlab.nn.contrastive` (default: eq. 4's one direction, CNN anchors, the positive
   kept in the denominator; ``contrastive_symmetric``, ``exclude_positive``).
4. Batches: ``target_fraction`` (0.2) of each batch from the target domain by
   :class:`asdlab.train.samplers.DomainBatchSampler` (stochastic rounding: exactly 20 % in
   expectation, 6 or 7 of 32; None: a plain shuffled pass over the clips), an epoch being as
   many batches as a pass over the training clips. Per item: with ``time_shift`` the clip is
   rolled circularly along time by a random offset, then a random ``segment_frames`` crop is
   cut (shorter clips are tiled first). Per batch, with ``mixup_alpha > 0``: mixup of the
   segments and one-hot targets with ``lam ~ Beta(alpha, alpha)`` and a random partner
   (:mod:`asdlab.nn.mixup`); both branches see the mixed segment. With ``time_mask > 0``, one
   span of up to ``time_mask`` frames per item is set to 0 (the training mean) in the CNN's
   input only: the AE reconstructs the clean segment, so masking also makes the two contrastive
   views differ. Adam, ``lr`` halved every ``lr_step`` epochs (paper: 30), the last epoch's
   weights kept. All randomness is seeded from the run seed (member ``m`` of an ensemble uses
   seed + m).
5. Classes (``classes``): ``"section"`` (machine/section: the paper's section ID) or
   ``"attribute"`` (machine/section/attributes where the file name shows them, else
   machine/section; :mod:`asdlab.data.classes`). ``scope="all"`` trains one network on all
   machine types (the default in every preset: the DCASE 2022-2024 data have one or three
   sections per machine, too few to classify within one machine type); ``scope="machine"``
   trains one network per machine type, as seed 003 did on the DCASE 2021 data (three sections
   per machine in its development set), and needs at least two classes in every machine type.
6. Score (eq. 3): ``A(x) = log((1 - p) / p)`` with ``p`` the softmax probability of the clip's
   class, computed exactly in log space (``log sum_{j != c} p_j - log p_c``; the public code
   clamps at machine epsilon instead), averaged over the clip's segments: consecutive windows of
   ``segment_frames`` frames every ``eval_hop`` frames, the last one ending at the clip's end
   (None: the whole clip, one segment). Only the CNN is used at test time. A test clip whose
   attribute class never occurs in training (``classes="attribute"``) takes ``p`` = the summed
   probability of the classes of its machine/section. Ensembles of ``n_models`` networks
   (``ensemble``): ``"mean"`` (S2: mean of the members' scores), ``"max"`` (S3: their maximum)
   or ``"softmax"`` (S4: the score of the members' mean softmax, per segment, then averaged over
   segments) (:func:`clip_score`). The paper's S2-S4 ensemble 5 differently configured
   models; here the members differ in seed only.
7. Decisions: the official gamma-fit threshold per machine/section on the training clips'
   scores (:func:`asdlab.backends.thresholds.add_decisions`).

Run folder extras: ``embeddings.npy`` / ``embeddings.csv`` (per clip, the CNN's pooled features
averaged over its segments, of ensemble member 0; with ``scope="machine"`` each machine type's
own network), ``centers.npy`` / ``classes.csv`` (the L2-normalised rows of the bias-free
classifier: ``argmax_c <w_c, e>`` is the predicted class, so the direction of ``w_c`` is class
``c``'s direction in embedding space), ``history.csv`` (per member and epoch: lr and the mean
training ``mse``, ``ce``, ``contrastive`` and ``total`` losses), ``checkpoints/<group>_m<k>.pt``
(state dict of every member) and ``checkpoints/normalization.npz`` (per group: mel mean, std).

Presets:

==================  ===========  ===========  ================
parameter           smoke        course       paper
==================  ===========  ===========  ================
width / depth       0.25 / 0.25  0.25 / 0.25  1 / 1 (B0)
CNN parameters      0.12 M       0.12 M       4.0 M
classes             attribute    attribute    section
segment / eval hop  32 / 32      64 / 32      whole clip
epochs, batch       2, 16        14, 32       300, 32
lr, halved every    2e-3, 30     2e-3, 7      1e-3, 30
drop path, BN mom.  0, None      0, 0.1       0.2, 0.01
==================  ===========  ===========  ================

All presets: median filter "smooth" over 30 frames (the public code: 31), mixup alpha 0.2, time
shift, a time mask of up to 8 frames (32 in ``paper``, whose segments are whole clips), 20 %
target-domain batches, InfoNCE at 0.07 with weight 1, one model over all
machines. The paper names neither a learning rate (the public code uses 1e-5 on 64-frame
segments taken every 8 frames) nor mixup's alpha nor the time-mask width; the values above are
ours. ``course`` classifies attributes because the factory data, like DCASE 2024, have one
section per machine type: section classes would only tell the 7 machine types apart (official
score 0.53 instead of 0.56 on ``data/factory-course``, seed 0). ``course`` trains all 7 machine
types of ``data/factory-course`` in about 100 s of one CPU core (features cached). On that data
the contrastive term does not help: ``contrastive_weight=0`` scores 0.59 / 0.58 (seeds 0 / 1)
against 0.56 / 0.57 with weight 1, a parameter worth exploring.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections import Counter

import numpy as np
import pandas as pd
import scipy.special
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from asdlab.core.atomic import atomic_write, atomic_write_text
from asdlab.data.classes import class_names
from asdlab.artifacts.embeddings import save_embeddings
from asdlab.core.errors import ConfigError, DataError
from asdlab.methods import (SCORE_COLUMNS, Method, MethodOutput, RunContext, log_mels, readable_split, register,
                            score_frame)
from asdlab.features.frames import fix_frames
from asdlab.nn.ae import DenseAutoEncoder
from asdlab.nn.contrastive import ContrastiveProjector, info_nce
from asdlab.nn.efficientnet import EfficientNet
from asdlab.nn.mixup import mix, sample_lambda
from asdlab.nn.subcluster import soft_cross_entropy
from asdlab.train.samplers import DomainBatchSampler
from asdlab.backends.thresholds import add_decisions
from asdlab.train import TrainConfig, atomic_torch_save, fit, resolve_device

NAME = "contrastive_ae_cnn"
ENSEMBLES = ("mean", "max", "softmax")
MEDIAN_MODES = (None, "smooth", "subtract")
CLASS_MODES = ("section", "attribute")
SCOPES = ("all", "machine")
LOSS_TERMS = ("mse", "ce", "contrastive", "total")

_PAPER = dict(n_mels=128, n_fft=1024, hop=512, median_filter="smooth", median_window=30,
              classes="section", scope="all",
              width=1.0, depth=1.0, drop_path=0.2, dropout=0.2, bn_momentum=0.01,
              ae_frames=5, ae_hidden=128, ae_layers=4, ae_bottleneck=32, proj_dim=256,
              temperature=0.07, contrastive_weight=1.0, contrastive_symmetric=False,
              exclude_positive=False,
              segment_frames=None, eval_hop=None, time_shift=True, time_mask=32, mixup_alpha=0.2,
              target_fraction=0.2, epochs=300, batch_size=32, lr=1e-3, lr_step=30, lr_gamma=0.5,
              weight_decay=0.0, n_models=1, ensemble="mean")
_COURSE = {**_PAPER, "classes": "attribute", "width": 0.25, "depth": 0.25, "drop_path": 0.0, "bn_momentum": 0.1,
           "segment_frames": 64, "eval_hop": 32, "time_mask": 8, "epochs": 14, "lr": 2e-3, "lr_step": 7}
_SMOKE = {**_COURSE, "segment_frames": 32, "eval_hop": 32, "epochs": 2, "batch_size": 16, "lr_step": 30,
          "bn_momentum": None}
PRESETS = {"smoke": _SMOKE, "course": _COURSE, "paper": _PAPER}


# ----------------------------------------------------------------------------------------------
# features and segments


def median_filter_time(mel: np.ndarray, window: int = 30, mode: str = "smooth") -> np.ndarray:
    """Median filter along time (the last axis), each mel band on its own: ``(..., T) -> (..., T)``.

    The output at frame ``t`` is the median (mean of the two middle values for an even
    ``window``) of frames ``t - (window - 1) // 2 ... t + window // 2``, the clip being extended
    at both ends by reflection (``numpy.pad(mode="reflect")``: ``x2 x1 | x0 x1 x2 ...``).
    ``mode``: ``"smooth"`` returns the filtered values, ``"subtract"`` returns ``mel`` minus them.
    """
    if mode not in ("smooth", "subtract"):
        raise ConfigError(f"median filter mode must be 'smooth' or 'subtract', got {mode!r}")
    if not isinstance(window, int) or window < 1:
        raise ConfigError(f"median_window must be a positive integer, got {window!r}")
    x = np.asarray(mel, dtype=np.float32)
    if x.shape[-1] < 2:
        med = x.copy()
    else:
        pad = [(0, 0)] * (x.ndim - 1) + [((window - 1) // 2, window // 2)]
        padded = np.pad(x, pad, mode="reflect")
        windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)
        med = np.median(windows, axis=-1).astype(np.float32)
    return med if mode == "smooth" else x - med


def segment_starts(n_frames: int, segment: int, hop: int) -> list[int]:
    """Start frames of the scoring segments of a clip of ``n_frames`` (at least ``segment``):
    ``0, hop, 2 hop, ...`` while the segment fits, plus ``n_frames - segment`` when the last
    regular one stops short of the end. ``segment_starts(157, 64, 32) == [0, 32, 64, 93]``."""
    starts = list(range(0, n_frames - segment + 1, hop))
    if starts[-1] != n_frames - segment:
        starts.append(n_frames - segment)
    return starts


def frame_vectors(x: torch.Tensor, n_frames: int = 5) -> torch.Tensor:
    """Batched :func:`asdlab.features.stack_frames`: ``(B, n_mels, T) -> (B, T - n_frames + 1,
    n_frames * n_mels)``, row ``t`` = frames ``t ... t + n_frames - 1`` one after the other."""
    b, m, t = x.shape
    v = x.unfold(2, n_frames, 1)  # (B, M, T - n + 1, n)
    return v.permute(0, 2, 3, 1).reshape(b, t - n_frames + 1, n_frames * m)


# ----------------------------------------------------------------------------------------------
# scores


def log_odds(log_probs, own) -> np.ndarray:
    """Eq. 3, ``log((1 - p) / p)`` with ``p`` = the summed probability of the ``own`` classes.

    ``log_probs``: ``(..., C)`` log-softmax outputs; ``own``: ``(C,)`` or ``(..., C)`` bool (one
    True = the clip's class). Computed as ``logsumexp(others) - logsumexp(own)`` in float64:
    finite even where ``p`` rounds to 0 or 1. Returns ``(...)``."""
    lp = np.asarray(log_probs, dtype=np.float64)
    own = np.broadcast_to(np.asarray(own, dtype=bool), lp.shape)
    log_p = scipy.special.logsumexp(np.where(own, lp, -np.inf), axis=-1)
    log_rest = scipy.special.logsumexp(np.where(own, -np.inf, lp), axis=-1)
    return log_rest - log_p


def clip_score(log_probs, own, ensemble: str = "mean") -> float:
    """Anomaly score of one clip from ``log_probs`` ``(n_models, n_segments, C)`` (log-softmax of
    every member on every segment) and its ``own`` classes ``(C,)`` bool.

    ``"mean"``: mean over members of (mean over segments of :func:`log_odds`); ``"max"``: the
    largest member score; ``"softmax"``: the members' softmax outputs are averaged per segment,
    then :func:`log_odds` of that mean is averaged over the segments."""
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim != 3:
        raise ValueError(f"log_probs must be (n_models, n_segments, C), got shape {lp.shape}")
    if ensemble == "softmax":
        mean_lp = scipy.special.logsumexp(lp, axis=0) - np.log(len(lp))  # log of the mean softmax
        return float(log_odds(mean_lp, own).mean())
    member = log_odds(lp, own).mean(axis=1)
    if ensemble == "mean":
        return float(member.mean())
    if ensemble == "max":
        return float(member.max())
    raise ConfigError(f"unknown ensemble {ensemble!r}; choose from {', '.join(ENSEMBLES)}")


# ----------------------------------------------------------------------------------------------
# network


class ContrastiveAECNN(nn.Module):
    """CNN classifier + AutoEncoder + contrastive projector (module docstring, step 2).

    ``forward(x (B, n_mels, T)) -> logits (B, n_classes)``: the CNN branch alone (scoring);
    ``features(x) -> (B, cnn.out_dim)`` its pooled features. The AE sees ``ae_frames``-frame
    vectors of ``n_mels`` mels."""

    def __init__(self, n_classes: int, n_mels: int = 128, width: float = 1.0, depth: float = 1.0,
                 drop_path: float = 0.2, dropout: float = 0.2, bn_momentum: float = 0.01,
                 ae_frames: int = 5, ae_hidden: int = 128, ae_layers: int = 4, ae_bottleneck: int = 32,
                 proj_dim: int = 256):
        super().__init__()
        self.cnn = EfficientNet(width, depth, 1, drop_path, bn_momentum)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.cnn.out_dim, n_classes, bias=False)
        self.ae_frames = ae_frames
        self.ae = DenseAutoEncoder(ae_frames * n_mels, ae_hidden, ae_layers, ae_bottleneck)
        self.projector = ContrastiveProjector(ae_bottleneck, self.cnn.out_dim, proj_dim, proj_dim, proj_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.cnn(x)))

    def losses(self, x_ae: torch.Tensor, x_cnn: torch.Tensor, targets: torch.Tensor, temperature: float,
               symmetric: bool, exclude_positive: bool) -> dict[str, torch.Tensor]:
        """``mse``, ``ce`` and ``contrastive`` terms for segments ``x_ae`` (AE input) and
        ``x_cnn`` (CNN input, e.g. masked), both ``(B, n_mels, T)``, and soft ``targets (B, C)``."""
        vec = frame_vectors(x_ae, self.ae_frames)  # (B, V, 5 * M)
        b, v, d = vec.shape
        flat = vec.reshape(b * v, d)
        code = self.ae.encode(flat)
        mse = F.mse_loss(self.ae.decoder(code), flat)
        feat = self.cnn(x_cnn)
        ce = soft_cross_entropy(F.log_softmax(self.classifier(self.dropout(feat)), dim=1), targets)
        z_ae, z_cnn = self.projector(code.reshape(b, v, -1).mean(dim=1), feat)
        con = info_nce(z_cnn, z_ae, temperature, symmetric=symmetric, exclude_positive=exclude_positive)
        return {"mse": mse, "ce": ce, "contrastive": con}


def build_model(p: dict, n_classes: int) -> ContrastiveAECNN:
    """The network of params ``p`` for ``n_classes`` classes."""
    return ContrastiveAECNN(n_classes, p["n_mels"], p["width"], p["depth"], p["drop_path"], p["dropout"],
                            p["bn_momentum"], p["ae_frames"], p["ae_hidden"], p["ae_layers"],
                            p["ae_bottleneck"], p["proj_dim"])


# ----------------------------------------------------------------------------------------------
# parameters


def check_params(p: dict) -> None:
    """Raise :class:`ConfigError` naming the first bad parameter of ``p``."""
    def bad(key, why):
        raise ConfigError(f"{NAME}: parameter {key}={p[key]!r} {why}")

    for key, allowed in (("ensemble", ENSEMBLES), ("median_filter", MEDIAN_MODES),
                         ("classes", CLASS_MODES), ("scope", SCOPES)):
        if p[key] not in allowed:
            bad(key, f"is not one of {', '.join(map(str, allowed))}")

    def positive_int(key):
        return isinstance(p[key], int) and not isinstance(p[key], bool) and p[key] >= 1

    for key in ("epochs", "batch_size", "n_models", "median_window", "ae_frames", "ae_hidden", "ae_layers",
                "ae_bottleneck", "proj_dim", "lr_step", "n_mels"):
        if not positive_int(key):
            bad(key, "must be a positive integer")
    if p["batch_size"] < 2:
        bad("batch_size", "must be at least 2 (the contrastive loss needs negatives)")
    if p["segment_frames"] is not None and (not positive_int("segment_frames") or p["segment_frames"] < p["ae_frames"]):
        bad("segment_frames", f"must be None (whole clips) or an integer >= ae_frames ({p['ae_frames']})")
    if p["eval_hop"] is not None and not positive_int("eval_hop"):
        bad("eval_hop", "must be None (= segment_frames) or a positive integer")
    if not isinstance(p["time_mask"], int) or p["time_mask"] < 0:
        bad("time_mask", "must be a non-negative integer (frames; 0 = off)")
    if p["target_fraction"] is not None and not 0.0 <= float(p["target_fraction"]) <= 1.0:
        bad("target_fraction", "must be None (no re-weighting) or lie in [0, 1]")
    for key in ("width", "depth", "temperature", "lr", "lr_gamma"):
        if not float(p[key]) > 0:
            bad(key, "must be positive")
    for key in ("drop_path", "dropout"):
        if not 0.0 <= float(p[key]) < 1.0:
            bad(key, "must lie in [0, 1)")
    for key in ("mixup_alpha", "contrastive_weight", "weight_decay"):
        if not float(p[key]) >= 0:
            bad(key, "must be >= 0")


# ----------------------------------------------------------------------------------------------
# data


class _Group:
    """The clips one network is trained on and scores (all machines, or one machine type):
    standardised log-mels, classes and the ``own``-class mask of every clip (train then test)."""

    def __init__(self, name: str, train_rows: pd.DataFrame, test_rows: pd.DataFrame,
                 train_mels: list, test_mels: list, p: dict):
        self.name = name
        self.train_rows, self.test_rows = train_rows.reset_index(drop=True), test_rows.reset_index(drop=True)
        frames = p["segment_frames"]
        if frames is None:  # whole clips: every clip brought to the most common training length
            frames = Counter(m.shape[1] for m in train_mels).most_common(1)[0][0]
            train_mels = [fix_frames(m, frames) for m in train_mels]
            test_mels = [fix_frames(m, frames) for m in test_mels]
        if frames < p["ae_frames"]:
            raise DataError(f"{name}: clips of {frames} frames are shorter than the AE's {p['ae_frames']}-frame input")
        self.frames = frames
        self.hop = p["eval_hop"] or frames
        allframes = np.concatenate(train_mels, axis=1)
        self.mean = allframes.mean(axis=1, dtype=np.float64).astype(np.float32)[:, None]
        self.std = (allframes.std(axis=1, dtype=np.float64) + 1e-12).astype(np.float32)[:, None]
        self.train = [(m - self.mean) / self.std for m in train_mels]
        self.test = [(m - self.mean) / self.std for m in test_mels]
        all_rows = pd.concat([self.train_rows, self.test_rows], ignore_index=True)
        section = (all_rows["machine"] + "/" + all_rows["section"].astype(str)).to_numpy()
        label = section if p["classes"] == "section" else class_names(all_rows).to_numpy()
        n_train = len(self.train_rows)
        self.classes = sorted(set(label[:n_train]))
        if len(self.classes) < 2:
            raise ConfigError(f"{NAME} classifies {p['classes']}s and needs at least 2 classes per network; "
                              f"{name} has only {self.classes[0]!r} in training (use scope='all', "
                              "classes='attribute', or data with more sections)")
        index = {c: i for i, c in enumerate(self.classes)}
        self.class_index = np.array([index.get(c, -1) for c in label], dtype=np.int64)
        self.y_train = self.class_index[:n_train]
        class_section = np.array([c.split("/")[0] + "/" + c.split("/")[1] for c in self.classes])
        self.own = np.zeros((len(label), len(self.classes)), dtype=bool)
        for i, (c, s) in enumerate(zip(self.class_index, section)):
            if c >= 0:
                self.own[i, c] = True
            else:
                self.own[i] = class_section == s
        orphan = ~self.own.any(axis=1)
        if orphan.any():
            raise DataError(f"test clips of {', '.join(sorted(set(section[orphan])))} have no training clips "
                            f"in their machine/section: {NAME} cannot score them")
        self.is_target = (self.train_rows["domain"] == "target").to_numpy()


def _groups(ctx: RunContext) -> tuple[list[_Group], list]:
    p = ctx.params
    table = ctx.table
    feats, skipped = log_mels(table, ctx)
    rows, feats, is_train = readable_split(table, feats, NAME)
    if p["median_filter"] is not None:
        feats = [median_filter_time(f, p["median_window"], p["median_filter"]) for f in feats]
    keys = ["all"] * len(rows) if p["scope"] == "all" else list(rows["machine"])
    groups = []
    for name in sorted(set(keys)):
        sel = np.array([k == name for k in keys])
        tr, te = sel & is_train, sel & ~is_train
        if not tr.any():
            raise DataError(f"machine type {name!r} has no readable training clips")
        groups.append(_Group(name, rows[tr], rows[te], [f for f, s in zip(feats, tr) if s],
                             [f for f, s in zip(feats, te) if s], p))
    return groups, skipped


# ----------------------------------------------------------------------------------------------
# training


def _step_rng() -> np.random.Generator:
    """A generator seeded from torch's global RNG, which :func:`asdlab.train.fit` re-seeds per epoch."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,))))


def _crop(mel: np.ndarray, frames: int, rng: np.random.Generator, shift: bool) -> np.ndarray:
    if shift:
        mel = np.roll(mel, int(rng.integers(0, mel.shape[1])), axis=1)
    mel = fix_frames(mel, frames) if mel.shape[1] < frames else mel
    start = int(rng.integers(0, mel.shape[1] - frames + 1))
    return mel[:, start:start + frames]


def batch_getter(group: _Group, p: dict):
    """``get_batch(idx, train) -> (segments (B, n_mels, frames), time_mask (B, frames) bool,
    class index (B,))`` for :func:`asdlab.train.fit` (module docstring, step 4). With the weighted
    sampler only ``len(idx)`` is used: the sampler picks the clips."""
    sampler = DomainBatchSampler(group.is_target, p["target_fraction"]) if p["target_fraction"] is not None else None
    y = torch.from_numpy(group.y_train)
    frames = group.frames

    def get(idx: torch.Tensor, train: bool):
        if not train:  # deterministic: the first segment of each clip
            items = idx.numpy()
            x = np.stack([fix_frames(group.train[i], frames) for i in items])
            return torch.from_numpy(x), torch.zeros(len(items), frames, dtype=torch.bool), y[idx]
        rng = _step_rng()
        items = sampler.draw(len(idx), rng) if sampler is not None else idx.numpy()
        x = np.stack([_crop(group.train[i], frames, rng, p["time_shift"]) for i in items])
        mask = np.zeros((len(items), frames), dtype=bool)
        if p["time_mask"] > 0:
            for row in mask:
                width = int(rng.integers(0, min(p["time_mask"], frames) + 1))
                start = int(rng.integers(0, frames - width + 1))
                row[start:start + width] = True
        return torch.from_numpy(x), torch.from_numpy(mask), y[torch.from_numpy(items)]
    return get


def loss_function(p: dict, n_classes: int, record: dict | None = None):
    """``loss(model, (x, mask, y)) -> scalar``: MSE + CE + weight x InfoNCE, with mixup in
    training mode. ``record``: a dict whose ``sums`` (per term) and ``n`` are incremented by
    every training batch, for the per-epoch history."""
    def compute(model: ContrastiveAECNN, batch) -> torch.Tensor:
        x, mask, y = batch
        targets = F.one_hot(y, n_classes).to(x.dtype)
        if model.training and p["mixup_alpha"] > 0:
            rng = _step_rng()
            lam = sample_lambda(p["mixup_alpha"], rng)
            perm = torch.from_numpy(rng.permutation(len(y))).to(y.device)
            x, targets = mix(x, lam, perm), mix(targets, lam, perm)
        x_cnn = x.masked_fill(mask[:, None, :], 0.0)
        terms = model.losses(x, x_cnn, targets, p["temperature"], p["contrastive_symmetric"],
                             p["exclude_positive"])
        total = terms["mse"] + terms["ce"] + p["contrastive_weight"] * terms["contrastive"]
        if record is not None and model.training:
            for k, v in {**terms, "total": total}.items():
                record["sums"][k] = record["sums"].get(k, 0.0) + float(v.detach()) * len(y)
            record["n"] += len(y)
        return total
    return compute


def train_member(ctx: RunContext, group: _Group, member: int) -> tuple[ContrastiveAECNN, list[dict]]:
    """Train (or load, when a finished run folder holds it) ensemble member ``member`` of
    ``group``; returns the network (eval mode, CPU) and its per-epoch history. Resumable: the
    epochs run one :func:`asdlab.train.fit` call each on one checkpoint file."""
    p = ctx.params
    tag = f"{group.name}_m{member}"
    seed = ctx.seed + member
    torch.manual_seed(seed)
    model = build_model(p, len(group.classes))
    final = ctx.workdir / "checkpoints" / f"{tag}.pt"
    hist_file = ctx.workdir / "train" / f"{tag}_history.json"
    if final.exists() and hist_file.exists():
        model.load_state_dict(torch.load(final, map_location="cpu"))
        return model.eval(), json.loads(hist_file.read_text())
    ckpt = ctx.workdir / "train" / f"{tag}.ckpt"
    done = torch.load(ckpt, map_location="cpu", weights_only=False)["epoch"] + 1 if ckpt.exists() else 0
    history = json.loads(hist_file.read_text())[:done] if hist_file.exists() else []
    history += [{"epoch": e, **{k: float("nan") for k in LOSS_TERMS}} for e in range(len(history), done)]
    record = {"sums": {}, "n": 0}
    get_batch, loss_fn = batch_getter(group, p), loss_function(p, len(group.classes), record)
    bar = tqdm(range(done, p["epochs"]), desc=f"{NAME} {tag}", disable=not ctx.progress, leave=False)
    for epoch in bar:
        lr = p["lr"] * p["lr_gamma"] ** (epoch // p["lr_step"])
        cfg = TrainConfig(epochs=epoch + 1, batch_size=p["batch_size"], lr=lr, optimizer="adam",
                          weight_decay=p["weight_decay"], val_fraction=0.0, seed=seed)
        record["sums"], record["n"] = {}, 0
        fit(model, len(group.train), get_batch, loss_fn, cfg, device=ctx.device, checkpoint=ckpt, progress=False)
        row = {"epoch": epoch, "lr": lr, **{k: record["sums"].get(k, float("nan")) / max(record["n"], 1)
                                            for k in LOSS_TERMS}}
        history.append(row)
        atomic_write_text(hist_file, json.dumps(history))
        bar.set_postfix(total=f"{row['total']:.4g}")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["model"]
    model.cpu().load_state_dict(state)  # the last epoch's weights, not fit's lowest-loss epoch
    atomic_torch_save(state, final)
    ckpt.unlink()
    return model.eval(), history


# ----------------------------------------------------------------------------------------------
# scoring


@torch.no_grad()
def clip_outputs(model: ContrastiveAECNN, mels: list[np.ndarray], frames: int, hop: int,
                 device: str = "cpu", batch_size: int = 64) -> tuple[list[np.ndarray], np.ndarray]:
    """Per clip, the log-softmax ``(n_segments, C)`` of its segments (:func:`segment_starts`;
    clips shorter than ``frames`` are tiled), and the clip embeddings ``(N, out_dim)``: pooled
    CNN features averaged over the segments."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    segs, owner = [], []
    for i, m in enumerate(mels):
        m = fix_frames(m, frames) if m.shape[1] < frames else m
        for s in segment_starts(m.shape[1], frames, hop):
            segs.append(m[:, s:s + frames])
            owner.append(i)
    feats, logps = [], []
    for start in range(0, len(segs), batch_size):
        x = torch.from_numpy(np.stack(segs[start:start + batch_size])).to(dev)
        f = model.features(x)
        feats.append(f.cpu())
        logps.append(F.log_softmax(model.classifier(f), dim=1).cpu())
    n_classes = model.classifier.out_features
    feats = torch.cat(feats).numpy() if feats else np.zeros((0, model.cnn.out_dim), np.float32)
    logps = torch.cat(logps).numpy() if logps else np.zeros((0, n_classes), np.float32)
    owner = np.asarray(owner, dtype=np.int64)
    bounds = np.searchsorted(owner, np.arange(len(mels) + 1))
    lp = [logps[a:b] for a, b in itertools.pairwise(bounds)]
    emb = np.stack([feats[a:b].mean(axis=0) for a, b in itertools.pairwise(bounds)]) if len(mels) else \
        np.zeros((0, model.cnn.out_dim), np.float32)
    return lp, emb.astype(np.float32)


def _run(ctx: RunContext) -> MethodOutput:
    p = ctx.params
    check_params(p)
    groups, skipped = _groups(ctx)
    train_frames, test_frames, metas, embs, centers, class_list, histories = [], [], [], [], [], [], []
    norm = {}
    for g in groups:
        mels = g.train + g.test
        outputs = []
        for member in range(p["n_models"]):
            model, history = train_member(ctx, g, member)
            histories += [{"group": g.name, "member": member, **h} for h in history]
            lp, emb = clip_outputs(model, mels, g.frames, g.hop, ctx.device)
            outputs.append(lp)
            if member == 0:
                embs.append(emb)
                w = model.classifier.weight.detach().cpu().numpy()
                centers.append(w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12))
        scores = np.array([clip_score(np.stack([o[i] for o in outputs]), g.own[i], p["ensemble"])
                           for i in range(len(mels))])
        nt = len(g.train)
        train_frames.append(score_frame(g.train_rows, scores[:nt]))
        test_frames.append(score_frame(g.test_rows, scores[nt:]))
        offset = len(class_list)
        class_list += g.classes
        all_rows = pd.concat([g.train_rows.assign(split="train"), g.test_rows.assign(split="test")],
                             ignore_index=True)
        metas.append(all_rows.assign(**{"class": [g.classes[c] if c >= 0 else "" for c in g.class_index]},
                                     class_index=np.where(g.class_index >= 0, g.class_index + offset, -1)))
        norm[f"{g.name}_mean"], norm[f"{g.name}_std"] = g.mean[:, 0], g.std[:, 0]
    train_scores = pd.concat(train_frames, ignore_index=True)
    scores = pd.concat(test_frames, ignore_index=True)
    add_decisions(train_scores, scores)

    folder = ctx.workdir
    cols = ["file", "machine", "section", "domain", "label", "split", "attributes", "class", "class_index"]
    artifacts = save_embeddings(folder, pd.concat(metas, ignore_index=True)[cols], np.concatenate(embs),
                                centers=np.concatenate(centers), classes=class_list)
    atomic_write(folder / "checkpoints" / "normalization.npz", lambda fh: np.savez(fh, **norm))
    atomic_write(folder / "history.csv", lambda fh: pd.DataFrame(histories).to_csv(fh, index=False), text=True)
    shutil.rmtree(folder / "train", ignore_errors=True)
    return MethodOutput(scores=scores[SCORE_COLUMNS], train_scores=train_scores[SCORE_COLUMNS],
                        skipped=skipped, artifacts=artifacts + ["history.csv"])


register(Method(NAME, "AutoEncoder + EfficientNet-B0 trained jointly with MSE, cross-entropy and an "
                      "InfoNCE loss between their representations; log-odds score of the section", PRESETS, _run))
