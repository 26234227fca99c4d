"""The composite networks the recipes train: an encoder with its classification heads.

Every ``forward`` returns the encoder's embedding (what :mod:`asdlab.train.embed` collects);
the heads are applied by the losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from asdlab.features.segments import frame_vectors
from asdlab.nn.adacos import SubClusterAdaCos
from asdlab.nn.ae import DenseAutoEncoder
from asdlab.nn.ced import CED
from asdlab.nn.contrastive import ContrastiveProjector, info_nce
from asdlab.nn.efficientnet import EfficientNet
from asdlab.nn.mobilefacenet import MobileFaceNet
from asdlab.nn.resnet import ModifiedResNet
from asdlab.nn.subcluster import soft_cross_entropy
from asdlab.nn.subcluster_margin import SubClusterMarginHead


class SubClusterAdaCosNet(nn.Module):
    """Modified ResNet encoder + one sub-cluster AdaCos head (``k`` sub-clusters) per entry of
    ``n_classes`` (seed 002).

    ``forward(logmel (B, n_mels, T)) -> embedding (B, embedding_dim)``; ``heads[i]`` is the
    head of classification task ``i`` (sc_adacos: 0 machine/section, 1 attributes)."""

    def __init__(self, n_classes: list[int], k: int, n_mels: int = 128, embedding_dim: int = 128,
                 width: float = 1.0, trainable_centers: bool = True, angle: str = "reference"):
        super().__init__()
        self.encoder = ModifiedResNet(n_mels, embedding_dim, width)
        self.heads = nn.ModuleList(SubClusterAdaCos(embedding_dim, c, k, trainable_centers, angle)
                                   for c in n_classes)

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return self.encoder(logmel)


class SCNoisyArcMixNet(nn.Module):
    """CED encoder + sub-cluster margin ``head`` (``n_sub`` centers per class) + optional FeatEx
    ``head_featex`` on ``2 * embed_dim`` (seed 000; None when ``n_sub_featex`` is falsy).

    ``forward(wave (B, n)) -> (B, embed_dim)`` embeddings."""

    def __init__(self, encoder: CED, n_classes: int, n_sub: int, n_sub_featex: int | None,
                 s: float = 30.0, m: float = 0.7, margin: str = "noisy"):
        super().__init__()
        d = encoder.embed_dim
        self.encoder = encoder
        self.head = SubClusterMarginHead(d, n_classes, n_sub, s, m, margin)
        self.head_featex = (SubClusterMarginHead(2 * d, n_classes, n_sub_featex, s, m, margin)
                            if n_sub_featex else None)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.encoder(wave)


class ContrastiveAECNN(nn.Module):
    """CNN classifier + AutoEncoder + contrastive projector (seed 003): an EfficientNet-style
    ``cnn`` (one input channel) with a bias-free linear ``classifier``; a dense ``ae`` on
    ``ae_frames``-frame vectors of ``n_mels`` mels; a ``projector`` of the AE's bottleneck
    code and the CNN's pooled features into one space.

    ``forward(x (B, n_mels, T)) -> logits (B, n_classes)``: the CNN branch alone (scoring);
    ``features(x) -> (B, cnn.out_dim)`` its pooled features."""

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
        ``x_cnn`` (CNN input, e.g. masked), both ``(B, n_mels, T)``, and soft ``targets (B, C)``.
        The AE's codes of a segment's frame vectors are averaged into the CNN features' positive."""
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


class LogMelMobileFaceNet(nn.Module):
    """MobileFaceNet on one-channel log-mels: ``(B, n_mels, T) -> (B, embedding_dim)``."""

    def __init__(self, embedding_dim: int, width: float):
        super().__init__()
        self.net = MobileFaceNet(1, embedding_dim, width)
        self.embedding_dim = embedding_dim

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return self.net(logmel.unsqueeze(1))


GUIDED_ENCODERS = ("resnet", "mobilefacenet")


class GuidedNet(nn.Module):
    """Encoder (``"resnet"``: :class:`ModifiedResNet`, ``"mobilefacenet"``:
    :class:`LogMelMobileFaceNet`) + a replaceable linear ``head`` (seed 001's DeepCluster and
    guided fine-tuning); ``forward(logmel (B, n_mels, T)) -> (B, embedding_dim)`` embeddings."""

    def __init__(self, encoder: str = "resnet", n_mels: int = 128, embedding_dim: int = 128, width: float = 1.0):
        super().__init__()
        if encoder not in GUIDED_ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; choose from {', '.join(GUIDED_ENCODERS)}")
        self.encoder = (ModifiedResNet(n_mels, embedding_dim, width) if encoder == "resnet"
                        else LogMelMobileFaceNet(embedding_dim, width))
        self.embedding_dim = embedding_dim
        self.head = nn.Identity()

    def new_head(self, n_classes: int) -> None:
        """A fresh linear classifier ``(embedding_dim -> n_classes)`` (seed torch's RNG before)."""
        self.head = nn.Linear(self.embedding_dim, n_classes)

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return self.encoder(logmel)
