"""A CED-style audio transformer (Dinkel et al., "CED: consistent ensemble distillation for audio
tagging", 2024), the encoder of seed 000; METHODS.md section 6.

``wave (B, n) at 16 kHz -> embedding (B, embed_dim)``:

1. front end (:class:`CEDFrontEnd`): 64-mel power spectrogram (n_fft 512, window 512, hop 160,
   centred with reflect padding, HTK mel scale without area normalisation, 0-8 kHz: torchaudio's
   ``MelSpectrogram`` defaults, as CED), ``10 log10(max(mel, 1e-10))`` dB clipped at 120 dB below
   each clip's maximum (CED's ``AmplitudeToDB(top_db=120)`` takes that maximum over the whole
   batch; per clip keeps a clip's features independent of its batch). 10 s -> 64 x 1001 frames.
2. batch-norm over mel bins (``init_bn``: one mean and variance per mel bin), which replaces
   dataset statistics;
3. non-overlapping 16 x 16 patches (``patch_embed.proj``, a strided Conv2d): 4 x 62 = 248
   patches for 10 s; trailing frames that do not fill a patch are dropped, as in CED;
4. separable learned position embeddings: ``time_pos_embed (1, D, 1, target_length // 16)``
   plus ``freq_pos_embed (1, D, n_mels // 16, 1)``, broadcast over the patch grid;
5. ``depth`` pre-norm ViT blocks (multi-head self-attention, MLP with ratio 4 and GELU,
   LayerNorm eps 1e-6), a final LayerNorm, and the mean over patches.

Clips longer than ``target_length`` frames (1012 = 10.1 s) are cut into chunks of
``target_length`` frames after the batch-norm, the last chunk zero-padded, and the chunk
embeddings averaged, as CED does at inference. Clips shorter than one patch (16 frames,
0.15 s) are an error.

Sizes (:data:`SIZES`): the published tiny / mini / small / base (12 layers each), and two
reduced configurations for CPUs: ``nano`` (64-d, 2 heads, 2 layers, 0.12 M; the smoke and
course presets of ``sc_noisy_arcmix``) and ``micro`` (128-d, 4 heads, 3 layers, 0.64 M).
:func:`count_parameters` of the encoder (no AudioSet output layer): tiny 5.40 M, mini 9.56 M,
small 21.4 M, base 85.3 M; CED's quoted 5.5 / 9.6 / 22 / 86 M include its 527-class output
layer.

Parameter names follow the original CED code (``patch_embed.proj``, ``time_pos_embed``,
``blocks.N.attn.qkv``...), so :func:`load_checkpoint` loads a published CED checkpoint file
(original or Hugging Face naming) after a small key mapping. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from asdlab.core.errors import ConfigError

SIZES: dict[str, tuple[int, int, int]] = {
    "nano": (64, 2, 2),
    "micro": (128, 4, 3),
    "tiny": (192, 3, 12),
    "mini": (256, 4, 12),
    "small": (384, 6, 12),
    "base": (768, 12, 12),
}
"""Size name -> ``(embed_dim, num_heads, depth)``. ``nano`` / ``micro`` are asdlab's reduced
CPU configurations; the others are CED's."""

SAMPLE_RATE, N_MELS, N_FFT, HOP, TOP_DB = 16000, 64, 512, 160, 120.0


class CEDFrontEnd(nn.Module):
    """``wave (B, n) -> dB mel (B, n_mels, 1 + n // hop)``; see the module docstring. The
    window and filterbank are non-persistent buffers (not in the state dict)."""

    def __init__(self, n_mels: int = N_MELS, n_fft: int = N_FFT, hop: int = HOP,
                 f_min: float = 0.0, f_max: float = 8000.0, top_db: float = TOP_DB,
                 sample_rate: int = SAMPLE_RATE):
        super().__init__()
        self.n_fft, self.hop, self.top_db = n_fft, hop, top_db
        with torch.device("cpu"):  # also when built under torch.device("meta") to count parameters
            fb = torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, f_min, f_max, n_mels,
                                                       sample_rate, norm=None, mel_scale="htk")
            window = torch.hann_window(n_fft)
        self.register_buffer("fb", fb, persistent=False)
        self.register_buffer("window", window, persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave.float(), self.n_fft, self.hop, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True)
        power = spec.real.square() + spec.imag.square()  # (B, F, T)
        mel = torch.matmul(power.transpose(1, 2), self.fb).transpose(1, 2)
        db = 10.0 * torch.log10(mel.clamp_min(1e-10))
        floor = db.amax(dim=(1, 2), keepdim=True) - self.top_db
        return torch.maximum(db, floor)


class Attention(nn.Module):
    """Multi-head self-attention ``(B, N, D) -> (B, N, D)`` (fused qkv projection)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(d_head)) v
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    """``fc1 -> GELU -> fc2`` with hidden size ``hidden``."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """``(B, 1, n_mels, T) -> (B, D, n_mels // p, T // p)`` with a ``p x p`` stride-``p`` Conv2d."""

    def __init__(self, embed_dim: int, patch: int = 16):
        super().__init__()
        self.proj = nn.Conv2d(1, embed_dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class CED(nn.Module):
    """CED-style encoder; ``forward(wave: (B, n)) -> (B, embed_dim)``.

    ``size``: a key of :data:`SIZES` (overridden by explicit ``embed_dim`` / ``num_heads`` /
    ``depth``); ``target_length``: frames covered by the time position embeddings (1012, CED's);
    ``bn_momentum``: of the mel batch-norm (CED 0.01; None = cumulative average, which suits a
    few hundred training steps from scratch).
    """

    def __init__(self, size: str = "tiny", embed_dim: int | None = None,
                 num_heads: int | None = None, depth: int | None = None,
                 mlp_ratio: float = 4.0, n_mels: int = N_MELS, patch: int = 16,
                 target_length: int = 1012, bn_momentum: float | None = 0.01,
                 qkv_bias: bool = True):
        super().__init__()
        if size not in SIZES:
            raise ConfigError(f"unknown CED size {size!r}; choose from {', '.join(SIZES)}")
        d0, h0, l0 = SIZES[size]
        d, h, depth = embed_dim or d0, num_heads or h0, depth or l0
        if n_mels % patch or target_length < patch:
            raise ValueError(f"n_mels ({n_mels}) must be a multiple of the patch size ({patch}) "
                             f"and target_length ({target_length}) at least one patch")
        self.size, self.embed_dim, self.num_heads, self.depth = size, d, h, depth
        self.patch, self.target_length = patch, target_length
        self.front_end = CEDFrontEnd(n_mels=n_mels)
        self.init_bn = nn.BatchNorm2d(n_mels, momentum=bn_momentum)
        self.patch_embed = PatchEmbed(d, patch)
        self.time_pos_embed = nn.Parameter(0.02 * torch.randn(1, d, 1, target_length // patch))
        self.freq_pos_embed = nn.Parameter(0.02 * torch.randn(1, d, n_mels // patch, 1))
        self.blocks = nn.Sequential(*[Block(d, h, mlp_ratio, qkv_bias) for _ in range(depth)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.apply(_init_weights)

    def normalize(self, mel: torch.Tensor) -> torch.Tensor:
        """Batch-norm over mel bins: ``(B, n_mels, T) -> (B, 1, n_mels, T)``."""
        return self.init_bn(mel.unsqueeze(2)).transpose(1, 2)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised spectrogram ``(B, 1, n_mels, T <= target_length)`` -> final patch tokens
        ``(B, n_patches, D)``."""
        x = self.patch_embed(x)
        t = x.shape[-1]
        x = x + self.time_pos_embed[..., :t] + self.freq_pos_embed
        return self.norm(self.blocks(x.flatten(2).transpose(1, 2)))

    def forward_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """dB mel ``(B, n_mels, T)`` -> embedding ``(B, D)`` (mean over patches; chunk mean
        beyond ``target_length`` frames)."""
        if mel.shape[-1] < self.patch:
            raise ValueError(f"a clip of {mel.shape[-1]} frames is shorter than one "
                             f"{self.patch}-frame patch (0.15 s at 16 kHz, hop 160)")
        x = self.normalize(mel)
        if x.shape[-1] <= self.target_length:
            return self.tokens(x).mean(dim=1)
        chunks = list(x.split(self.target_length, dim=-1))
        if chunks[-1].shape[-1] < self.target_length:
            chunks[-1] = F.pad(chunks[-1], (0, self.target_length - chunks[-1].shape[-1]))
        b = x.shape[0]
        emb = self.tokens(torch.cat(chunks, dim=0)).mean(dim=1)
        return emb.reshape(len(chunks), b, -1).mean(dim=0)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave (B, n)`` at 16 kHz -> ``(B, embed_dim)``."""
        return self.forward_mel(self.front_end(wave))


def _init_weights(module: nn.Module) -> None:
    """CED's init: Linear weights from a normal of std 0.02 truncated at +-2, zero biases, unit
    LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


_IGNORED_PREFIXES = ("front_end.", "outputlayer.", "classifier.")


def _map_key(key: str) -> str:
    """Published CED key -> asdlab key: strip ``module.`` / ``encoder.`` (Hugging Face port)
    prefixes and map the original ``init_bn.1.`` (BatchNorm inside a Sequential) to ``init_bn.``."""
    for prefix in ("module.", "encoder."):
        key = key.removeprefix(prefix)
    return key.replace("init_bn.1.", "init_bn.", 1) if key.startswith("init_bn.1.") else key


def _read_state_dict(path: Path) -> dict:
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as err:
            raise ConfigError(f"{path}: reading .safetensors needs the 'safetensors' package") from err
        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(f"{path}: not a readable torch checkpoint ({type(err).__name__}: {err})") from err
    for wrapper in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConfigError(f"{path}: expected a state dict (parameter name -> tensor)")
    return obj


def load_checkpoint(model: CED, path: str | os.PathLike) -> dict:
    """Load a user-supplied CED checkpoint file into ``model`` (never downloads anything).

    Accepts a state dict saved with ``torch.save`` (optionally under a ``"model"`` or
    ``"state_dict"`` key) or a ``.safetensors`` file, in asdlab's naming (``model.state_dict()``),
    the original CED release's (``audiotransformer_*.pt``: ``init_bn.1.*``, ``front_end.*``,
    ``outputlayer.*``) or the Hugging Face port's (``encoder.*``). Front-end buffers and the
    AudioSet output layer are ignored. A time position embedding of another length is cut or
    interpolated, as CED does. Anything else that does not fit (missing or unexpected keys,
    shape mismatches: usually a checkpoint of another size) raises :class:`ConfigError` naming
    the file and the keys.

    Returns ``{"path", "loaded", "ignored"}``: the file, how many tensors were loaded, and the
    ignored keys.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"CED checkpoint {path} not found (asdlab never downloads weights: "
                          "pass the path of a checkpoint file you have)")
    raw = _read_state_dict(path)
    state, ignored = {}, []
    for key, value in raw.items():
        mapped = _map_key(key)
        if mapped.startswith(_IGNORED_PREFIXES):
            ignored.append(key)
        else:
            state[mapped] = value
    own = model.state_dict()
    if "time_pos_embed" in state and state["time_pos_embed"].ndim == 4 \
            and state["time_pos_embed"].shape[:3] == own["time_pos_embed"].shape[:3]:
        state["time_pos_embed"] = _resize_time(state["time_pos_embed"], own["time_pos_embed"].shape[-1])
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                        for k in set(own) & set(state) if state[k].shape != own[k].shape)
    if missing or unexpected or mismatched:
        def show(keys):
            return ", ".join(keys[:8]) + (f" ... ({len(keys)} in all)" if len(keys) > 8 else "")
        parts = [f"missing keys: {show(missing)}" if missing else "",
                 f"unexpected keys: {show(unexpected)}" if unexpected else "",
                 f"shape mismatches: {show(mismatched)}" if mismatched else ""]
        raise ConfigError(f"{path} does not fit a CED-{model.size} encoder (embed_dim "
                          f"{model.embed_dim}, depth {model.depth}): "
                          + "; ".join(p for p in parts if p))
    model.load_state_dict(state, strict=True)
    return {"path": str(path), "loaded": len(state), "ignored": ignored}


def _resize_time(pos: torch.Tensor, length: int) -> torch.Tensor:
    """Time position embedding ``(1, D, 1, T0) -> (1, D, 1, length)``: cut when shorter,
    bilinear interpolation when longer."""
    if pos.shape[-1] >= length:
        return pos[..., :length].clone()
    return F.interpolate(pos, size=(1, length), mode="bilinear", align_corners=False)


def n_patches(seconds: float, patch: int = 16, n_mels: int = N_MELS) -> int:
    """Number of patches of a clip of ``seconds`` (up to ``target_length``): 248 for 10 s."""
    frames = 1 + int(round(seconds * SAMPLE_RATE)) // HOP
    return (n_mels // patch) * (frames // patch)


__all__ = ["CED", "SIZES", "CEDFrontEnd", "count_parameters", "load_checkpoint", "n_patches"]
