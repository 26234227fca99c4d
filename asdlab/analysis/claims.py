"""The seed papers' central claims, measured on run folders over several training seeds.

:data:`VARIANTS` names every run the claims need (``name -> (method, overrides)``); :data:`CLAIMS`
lists the claims: an id (``seed004/fig1-ce-arcface``), the seed paper, the claim as "A > B", the
paper's value (its number where it gives one, else its words) and a function from one seed's run
folders to the two measured sides, per part (domain) where it applies.
:func:`claims_table` measures every claim on ``{seed: {variant: folder}}`` and gives a verdict
(:data:`VERDICT_RULE`); :func:`claims_markdown` writes it as a table; :func:`claim_rows` keeps
the rows of one paper. ``benchmarks/claims.py`` trains the runs (:func:`plan_runs`,
:func:`train_job`) and writes the table.

Units: official scores in %, angles in degrees (median over normal test clips), ARI as is.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from asdlab.analysis.angles import angle_summary_by_domain, angle_table
from asdlab.analysis.pseudo_labels import cluster_quality, gain_summary
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.methods import REGISTRY, get_method, list_methods
from asdlab.methods.sc_noisy_arcmix import COURSE_GRID
from asdlab.runs.folder import RunExistsError, run_method

VERDICT_RULE = ("Verdict: per seed, d = A - B (the claimed direction is A > B). \"holds\" when the mean "
                "of d exceeds its spread (sample sd of d over seeds, ddof=1); \"does not hold\" when "
                "-mean(d) exceeds it; \"within the spread\" otherwise; with one seed: \"one seed: no verdict\".")
"""The rule of :func:`verdict`, printed under every claims table."""

HOLDS, FAILS, WITHIN, ONE_SEED, NOT_MEASURED = ("holds", "does not hold", "within the spread",
                                                "one seed: no verdict", "not measured")

PAPERS = {
    "000": "seed 000: Liu et al., Small Rice DCASE2024 (sub-cluster Noisy-ArcMix, FeatEx, ASL)",
    "001": "seed 001: Wang et al., CUP DCASE2024 (pseudo labels from guided clustering)",
    "002": "seed 002: Wilkinghoff, DCASE2021 (sub-cluster AdaCos, GMM back ends)",
    "003": "seed 003: Cai et al., Small Rice DCASE2021 (AE + EfficientNet, contrastive loss)",
    "004": "seed 004: Choi & Choi, ICASSP 2024 (Noisy-ArcMix, TASTgram-MFN)",
}
"""Seed paper id -> one-line citation."""

BASELINES = ("ae_mse", "ae_mahala", "raw_spec")
"""Registered methods that are not neural embedding methods (the references of the last claims)."""

NEURAL_METHODS = {"stgram_arcface": "004", "tastgram_ce": "004", "tastgram_linear_ce": "004",
                  "tastgram_arcface": "004", "tastgram_arcmix": "004", "tastgram_noisy_arcmix": "004",
                  "sc_adacos": "002", "sc_noisy_arcmix": "000", "guided_clustering": "001",
                  "contrastive_ae_cnn": "003"}
"""Neural method -> the seed paper it comes from; each is compared with ``ae_mse`` and ``raw_spec``."""

OPTIONAL_METHODS = ("tastgram_linear_ce",)
"""Methods whose variants and claims are left out, silently, when they are not registered."""

VARIANTS: dict[str, tuple[str, dict]] = {
    **{m: (m, {}) for m in ("ae_mse", "raw_spec", *NEURAL_METHODS)},
    "sc_adacos_gmm": ("sc_adacos", {"backend": "gmm"}),
    "sc_adacos_cosine": ("sc_adacos", {"backend": "cosine"}),
    "sc_adacos_k24": ("sc_adacos", {"ks": [2, 4]}),
    "sc_adacos_k4": ("sc_adacos", {"ks": [4]}),
    **{f"sc_noisy_arcmix_sc{a}_fx{b}": ("sc_noisy_arcmix", {"featex": True, "n_sub": a, "n_sub_featex": b})
       for a, b in COURSE_GRID},
    "sc_noisy_arcmix_asl": ("sc_noisy_arcmix", {"loss": "asl"}),
    "sc_noisy_arcmix_ce": ("sc_noisy_arcmix", {"loss": "ce"}),
    "contrastive_ae_cnn_w1": ("contrastive_ae_cnn", {"contrastive_weight": 1.0}),
    "contrastive_ae_cnn_w0": ("contrastive_ae_cnn", {"contrastive_weight": 0.0}),
    "contrastive_ae_cnn_no_median": ("contrastive_ae_cnn", {"median_filter": None}),
}
"""Every run the claims read: variant name -> (method, parameter overrides of the preset). Two
variants that resolve to the same parameters at a preset share one run (:func:`plan_runs`); the
first one listed names the folder."""

DOMAINS = ("all", "source", "target")
DIGITS = {"%": 1, "deg": 2, "ARI": 3}


# --------------------------------------------------------------------------------------------
# what one seed's run folders measure


def official(folder: str | os.PathLike) -> float:
    """The official score of a run folder (``summary.json``), in %."""
    f = Path(folder) / "summary.json"
    if not f.exists():
        raise AsdlabError(f"{folder}: no summary.json (unfinished run, or test labels unknown)")
    return 100.0 * float(json.loads(f.read_text())["official_score"])


def _by_domain(folder_a: Path, folder_b: Path, column: str) -> dict[str, tuple[float, float]]:
    """``{domain: (A, B)}`` of an :func:`angle_summary_by_domain` column; a domain without the
    clips it needs (NaN on either side) is left out."""
    s = angle_summary_by_domain({"a": angle_table(folder_a), "b": angle_table(folder_b)})
    out = {}
    for d in DOMAINS:
        if (d, "a") in s.index and (d, "b") in s.index:
            a, b = float(s.loc[(d, "a"), column]), float(s.loc[(d, "b"), column])
            if np.isfinite(a) and np.isfinite(b):
                out[d] = (a, b)
    return out


def _official_pair(a: str, b: str) -> Callable:
    def measure(f: Mapping[str, Path]) -> dict[str, tuple[float, float]]:
        return {"": (official(f[a]), official(f[b]))}
    return measure


def _angle_pair(a: str, b: str, column: str = "median_normal_angle") -> Callable:
    def measure(f: Mapping[str, Path]) -> dict[str, tuple[float, float]]:
        return _by_domain(f[a], f[b], column)
    return measure


def _ari_pair(other: str) -> Callable:
    def measure(f: Mapping[str, Path]) -> dict[str, tuple[float, float]]:
        q = cluster_quality(f["guided_clustering"])
        col = f"ari_{other}"
        if col not in q.columns or q.empty:
            raise AsdlabError(f"{f['guided_clustering']}: cluster_quality.csv has no {col} column")
        return {"": (float(q["ari"].mean()), float(q[col].mean()))}
    return measure


def _pseudo_gain(f: Mapping[str, Path]) -> dict[str, tuple[float, float]]:
    s = gain_summary(f["guided_clustering"])["official_score"]
    return {"": (100.0 * float(s["pseudo"]), 100.0 * float(s["machine_only"]))}


# --------------------------------------------------------------------------------------------
# the claims


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim "A > B" of a seed paper.

    ``id`` (``seed<paper>/<name>``), ``paper`` (key of :data:`PAPERS`), ``text`` (the claim),
    ``paper_value`` (the paper's number, or its words when it gives none), ``sides`` (labels of
    A and B), ``variants`` (the :data:`VARIANTS` it reads), ``measure`` (``{variant: folder}`` of
    one seed -> ``{part: (A, B)}``, part "" or a domain) and ``unit`` ("%", "deg" or "ARI")."""

    id: str
    paper: str
    text: str
    paper_value: str
    sides: tuple[str, str]
    variants: tuple[str, ...]
    measure: Callable[[Mapping[str, Path]], dict[str, tuple[float, float]]]
    unit: str = "%"


_IDNN = "IDNN (reconstruction) 76.96 / 62.57"
_AE_2024 = "AE-MSE 65.00 / 50.28 / 52.84"
_PAPER_VS_AE = {
    "stgram_arcface": f"STgram-MFN 92.36 / 86.34 vs {_IDNN} (AUC / pAUC, Table 1; the paper has no AE row)",
    "tastgram_ce": "not reported (the paper gives no score of the CE model)",
    "tastgram_linear_ce": "not reported (the paper gives no score of the CE model)",
    "tastgram_arcface": f"92.88 / 87.62 vs {_IDNN} (AUC / pAUC, Tables 1-2)",
    "tastgram_arcmix": f"92.38 / 87.10 vs {_IDNN} (AUC / pAUC, Table 1)",
    "tastgram_noisy_arcmix": f"94.65 / 89.31 vs {_IDNN} (AUC / pAUC, Table 1)",
    "sc_adacos": "AUC / pAUC hmean 77.69 / 62.99 vs AE 61.93 / 53.27 (Table 2, DCASE2021 dev)",
    "sc_noisy_arcmix": f"AUC src / tgt / pAUC 67.79 / 65.88 / 55.81 vs {_AE_2024} (Table 1, 32sc+FeatEx)",
    "guided_clustering": f"AUC src / tgt / pAUC 66.75 / 63.10 / 57.10 vs {_AE_2024} (Table 1)",
    "contrastive_ae_cnn": "omega 69.68 vs AE 57.39 (Table 1, mean over machine types)",
}
_PAPER_VS_RAW = ("not in the paper; ASDKit on DCASE2024 dev: learned embeddings 61.6 vs no-learning "
                 "spectrogram 54.2 (official score, METHODS.md)")


def _c(id_, paper, text, value, sides, variants, measure, unit="%") -> Claim:
    return Claim(f"seed{paper}/{id_}", paper, text, value, tuple(sides), tuple(variants), measure, unit)


def _grid_claims() -> list[Claim]:
    table2 = {(1, 1): 61.37, (1, 16): 61.41, (16, 1): 60.34, (16, 16): 61.67}
    best = (16, 16)
    out = []
    for cell in COURSE_GRID:
        if cell == best:
            continue
        a, b = f"sc_noisy_arcmix_sc{best[0]}_fx{best[1]}", f"sc_noisy_arcmix_sc{cell[0]}_fx{cell[1]}"
        out.append(_c(f"grid-sc16-fx16-vs-sc{cell[0]}-fx{cell[1]}", "000",
                      f"official score: SC {best[0]} / FeatEx {best[1]} > SC {cell[0]} / FeatEx {cell[1]}",
                      f"mean AUC {table2[best]:.2f} vs {table2.get(cell, float('nan')):.2f} (Table 2)",
                      (f"SC{best[0]}/FX{best[1]}", f"SC{cell[0]}/FX{cell[1]}"), (a, b), _official_pair(a, b)))
    return out


def _baseline_claims() -> list[Claim]:
    out = []
    for m, paper in NEURAL_METHODS.items():
        out.append(_c(f"{m}-vs-ae_mse", paper, f"official score: {m} > ae_mse", _PAPER_VS_AE[m],
                      (m, "ae_mse"), (m, "ae_mse"), _official_pair(m, "ae_mse")))
        out.append(_c(f"{m}-vs-raw_spec", paper, f"official score: {m} > raw_spec (no learning)", _PAPER_VS_RAW,
                      (m, "raw_spec"), (m, "raw_spec"), _official_pair(m, "raw_spec")))
    return out


_FIG1 = "Fig. 1 normal peaks ~35 (CE), ~10 (ArcFace), ~2 (ArcMix), ~5 (Noisy-ArcMix) deg"
CLAIMS: tuple[Claim, ...] = (
    # seed 004: Noisy-ArcMix
    _c("fig1-ce-arcface", "004", "median normal test angle: CE (cosine softmax) > ArcFace",
       "~35 vs ~10 deg (Fig. 1a-b normal peaks)", ("CE", "ArcFace"), ("tastgram_ce", "tastgram_arcface"),
       _angle_pair("tastgram_ce", "tastgram_arcface"), "deg"),
    _c("fig1-linear-ce-arcface", "004", "median normal test angle: CE (linear softmax) > ArcFace",
       "~35 vs ~10 deg (Fig. 1a-b normal peaks)", ("linear CE", "ArcFace"), ("tastgram_linear_ce", "tastgram_arcface"),
       _angle_pair("tastgram_linear_ce", "tastgram_arcface"), "deg"),
    _c("fig1-arcface-noisy-arcmix", "004", "median normal test angle: ArcFace > Noisy-ArcMix",
       f"~10 vs ~5 deg ({_FIG1})", ("ArcFace", "Noisy-ArcMix"), ("tastgram_arcface", "tastgram_noisy_arcmix"),
       _angle_pair("tastgram_arcface", "tastgram_noisy_arcmix"), "deg"),
    _c("fig1-gap-noisy-arcmix-arcmix", "004",
       "angle gap (median anomaly - median normal): Noisy-ArcMix > ArcMix",
       "ArcMix: normals ~2 deg with many anomalies near 0; Noisy-ArcMix: normals ~5, anomalies over 5-65 "
       "deg (Fig. 1c-d, no number)", ("Noisy-ArcMix", "ArcMix"), ("tastgram_noisy_arcmix", "tastgram_arcmix"),
       _angle_pair("tastgram_noisy_arcmix", "tastgram_arcmix", "separation_deg"), "deg"),
    _c("noisy-arcmix-vs-arcmix", "004", "official score: Noisy-ArcMix > ArcMix",
       "AUC 94.65 vs 92.38, pAUC 89.31 vs 87.10 (Table 1, DCASE2020 dev)", ("Noisy-ArcMix", "ArcMix"),
       ("tastgram_noisy_arcmix", "tastgram_arcmix"), _official_pair("tastgram_noisy_arcmix", "tastgram_arcmix")),
    _c("arcmix-vs-arcface", "004", "official score: ArcMix > ArcFace",
       "AUC 92.38 vs 92.88, pAUC 87.10 vs 87.62 (Tables 1-2): the paper's own numbers put ArcMix below ArcFace",
       ("ArcMix", "ArcFace"), ("tastgram_arcmix", "tastgram_arcface"),
       _official_pair("tastgram_arcmix", "tastgram_arcface")),
    _c("noisy-arcmix-vs-arcface", "004", "official score: Noisy-ArcMix > ArcFace",
       "AUC 94.65 vs 92.88, pAUC 89.31 vs 87.62 (Table 2)", ("Noisy-ArcMix", "ArcFace"),
       ("tastgram_noisy_arcmix", "tastgram_arcface"), _official_pair("tastgram_noisy_arcmix", "tastgram_arcface")),
    _c("tastgram-vs-stgram", "004", "official score: TASTgram > STgram (both ArcFace)",
       "AUC 92.88 vs 92.36, pAUC 87.62 vs 86.34 (Table 2)", ("TASTgram", "STgram"),
       ("tastgram_arcface", "stgram_arcface"), _official_pair("tastgram_arcface", "stgram_arcface")),
    # seed 002: sub-cluster AdaCos
    _c("gmm-vs-cosine", "002", "official score: GMM back end > cosine to the sub-cluster centers",
       "GMMs beat the cosine to the class means (sec. 2.4, citing sub-cluster AdaCos 2021); no number here",
       ("GMM", "cosine"), ("sc_adacos_gmm", "sc_adacos_cosine"), _official_pair("sc_adacos_gmm", "sc_adacos_cosine")),
    _c("k-ensemble-vs-single-k", "002", "official score: ensemble over K {2, 4} > a single K = 4",
       "the system sums K = 1, 2, 4, 8, 16 x 4 snapshots (sec. 2.5); no single-K number given",
       ("K {2, 4}", "K 4"), ("sc_adacos_k24", "sc_adacos_k4"), _official_pair("sc_adacos_k24", "sc_adacos_k4")),
    # seed 000: sub-cluster Noisy-ArcMix
    *_grid_claims(),
    _c("asl-vs-ce", "000", "official score: asymmetric focal loss > cross-entropy",
       "ASL is used to balance 10 target vs 990 source clips (sec. 2.3); no ablation number",
       ("ASL", "CE"), ("sc_noisy_arcmix_asl", "sc_noisy_arcmix_ce"),
       _official_pair("sc_noisy_arcmix_asl", "sc_noisy_arcmix_ce")),
    # seed 001: guided clustering
    _c("ari-vs-pretrained", "001",
       "ARI of the pseudo labels (mean over machines without attributes): guided fine-tuning > pretrained network only",
       "not measured in the paper (real data hide the attributes); step 2 of its method",
       ("guided", "pretrained"), ("guided_clustering",), _ari_pair("pretrained"), "ARI"),
    _c("ari-vs-logmel", "001",
       "ARI of the pseudo labels (mean over machines without attributes): guided fine-tuning > k-means on "
       "time-averaged log-mels",
       "not measured in the paper (real data hide the attributes)",
       ("guided", "log-mel"), ("guided_clustering",), _ari_pair("features"), "ARI"),
    _c("pseudo-vs-machine-only", "001", "official score: pseudo labels > machine-only labels",
       "AUC src / tgt / pAUC hmean 66.75 / 63.10 / 57.10 vs 56.19 / 60.74 / 53.52 (Table 1, vs baseline [8])",
       ("pseudo", "machine only"), ("guided_clustering",), _pseudo_gain),
    # seed 003: contrastive AE + CNN
    _c("contrastive-term", "003", "official score: contrastive weight 1 > 0",
       "the contrastive training 'is effective' (sec. 4); Table 1 has no run without it",
       ("weight 1", "weight 0"), ("contrastive_ae_cnn_w1", "contrastive_ae_cnn_w0"),
       _official_pair("contrastive_ae_cnn_w1", "contrastive_ae_cnn_w0")),
    _c("median-filter", "003", "official score: median filter > none",
       "omega 63.24 vs 62.14 (Table 1, EfficientNet-B0 with / without median filter)",
       ("median filter", "none"), ("contrastive_ae_cnn", "contrastive_ae_cnn_no_median"),
       _official_pair("contrastive_ae_cnn", "contrastive_ae_cnn_no_median")),
    # every neural method vs the AE and no learning
    *_baseline_claims(),
)
"""Every claim, by paper. Claims of :data:`OPTIONAL_METHODS` that are not registered are left out
by :func:`select_claims`."""


def _available(claim: Claim) -> bool:
    """False when a method the claim reads is one of :data:`OPTIONAL_METHODS` and not registered
    (any other unknown method stays, and :func:`plan_runs` names it in its error)."""
    list_methods()  # loads the built-in recipes
    return not any(VARIANTS[v][0] in OPTIONAL_METHODS and VARIANTS[v][0] not in REGISTRY for v in claim.variants)


def _paper_key(token) -> str | None:
    t = str(token).strip().lower().removeprefix("seed").strip()
    if t.isdigit() and f"{int(t):03d}" in PAPERS:
        return f"{int(t):03d}"
    return None


def select_claims(only: str | Sequence[str] | None = None) -> list[Claim]:
    """The claims of registered methods, all or those ``only`` names: paper ids (``seed004``,
    ``004``, ``4``) or claim ids (``seed004/tastgram-vs-stgram``), a list or one comma-separated
    string. An unknown name is a :class:`ConfigError` listing the known ones."""
    claims = [c for c in CLAIMS if _available(c)]
    if only is None:
        return claims
    tokens = [t.strip() for t in (only.split(",") if isinstance(only, str) else only) if str(t).strip()]
    ids = {c.id for c in claims}
    chosen = set()
    for t in tokens:
        paper = _paper_key(t)
        if paper is not None:
            chosen |= {c.id for c in claims if c.paper == paper}
        elif t in ids:
            chosen.add(t)
        else:
            raise ConfigError(f"--only {t!r}: not a seed paper ({', '.join('seed' + p for p in PAPERS)}) "
                              f"nor a claim id (e.g. {claims[0].id}; `benchmarks/claims.py --list` lists them)")
    return [c for c in claims if c.id in chosen]


def claim_variants(claims: Sequence[Claim]) -> dict[str, tuple[str, dict]]:
    """The :data:`VARIANTS` the ``claims`` read, in :data:`VARIANTS` order."""
    need = {v for c in claims for v in c.variants}
    return {v: VARIANTS[v] for v in VARIANTS if v in need}


# --------------------------------------------------------------------------------------------
# the runs


@dataclasses.dataclass(frozen=True)
class RunJob:
    """One training run of a variant (picklable, for worker processes): ``run_method(method,
    data, folder, preset, seed, overrides, machines, device, cache_dir)``; ``variants`` are the
    variant names it stands for; ``replace_stale``: replace a folder holding another
    configuration instead of failing."""

    variants: tuple[str, ...]
    method: str
    overrides: dict
    data: str
    folder: str
    preset: str
    seed: int
    machines: tuple[str, ...] | None = None
    device: str = "auto"
    cache_dir: str | None = None
    replace_stale: bool = False


def plan_runs(claims: Sequence[Claim], data: str | os.PathLike, runs_dir: str | os.PathLike, preset: str,
              seeds: Sequence[int], machines: Sequence[str] | None = None, device: str = "auto",
              cache_dir: str | os.PathLike | None = None,
              replace_stale: bool = False) -> tuple[list[RunJob], dict[int, dict[str, Path]]]:
    """The runs the ``claims`` need and where they live: ``(jobs, {seed: {variant: folder}})``.

    Run folders: ``runs_dir/seed<s>/<variant>``. Variants whose parameters at ``preset`` are the
    same (e.g. ``sc_adacos_k24`` and ``sc_adacos`` when the preset's ``ks`` is [2, 4]) share the
    folder of the first listed in :data:`VARIANTS`. Parameters are checked here, so a bad
    override is a :class:`ConfigError` before any training."""
    runs_dir = Path(runs_dir)
    canonical: dict[str, str] = {}
    first_of: dict[tuple, str] = {}
    for name, (method, overrides) in claim_variants(claims).items():
        params = get_method(method).params(preset, overrides)
        key = (method, json.dumps(params, sort_keys=True, default=str))
        canonical[name] = first_of.setdefault(key, name)
    jobs, folders = [], {}
    for s in seeds:
        folders[int(s)] = {v: runs_dir / f"seed{s}" / c for v, c in canonical.items()}
        for c in dict.fromkeys(canonical.values()):
            method, overrides = VARIANTS[c]
            jobs.append(RunJob(tuple(v for v, k in canonical.items() if k == c), method, dict(overrides),
                               str(data), str(runs_dir / f"seed{s}" / c), preset, int(s),
                               tuple(machines) if machines else None, device,
                               str(cache_dir) if cache_dir else None, replace_stale))
    return jobs, folders


def train_job(job: RunJob, threads: int = 1) -> dict:
    """Run ``job`` (a finished run folder of the same configuration is reused, see
    :func:`asdlab.runs.run_method`) with ``threads`` torch threads. Returns ``{"folder",
    "seconds", "reused", "error"}``; a failure is returned as its message, not raised."""
    torch.set_num_threads(threads)
    reused = (Path(job.folder) / "config.json").is_file()
    start = time.perf_counter()
    kwargs = dict(preset=job.preset, seed=job.seed, overrides=job.overrides,
                  machines=list(job.machines) if job.machines else None, device=job.device,
                  cache_dir=job.cache_dir, progress=False)
    error = None
    try:
        try:
            run_method(job.method, job.data, job.folder, **kwargs)
        except RunExistsError:
            if not job.replace_stale:
                raise
            reused = False
            run_method(job.method, job.data, job.folder, force=True, **kwargs)
    except RunExistsError as err:
        error = f"RunExistsError: {err} (or retrain it: replace_stale=True, benchmarks/claims.py --replace-stale)"
    except Exception as err:  # reported by the caller, who leaves the run out of the claims table
        error = f"{type(err).__name__}: {err}"
    return {"folder": job.folder, "seconds": time.perf_counter() - start, "reused": reused and error is None,
            "error": error}


# --------------------------------------------------------------------------------------------
# the table


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample sd (ddof=1; NaN for fewer than two values) of ``values``."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan


def verdict(diffs: Sequence[float]) -> str:
    """The verdict on per-seed differences ``A - B`` of a claim "A > B" (:data:`VERDICT_RULE`):
    "holds" when mean > sd, "does not hold" when -mean > sd, "within the spread" otherwise
    (sd: ddof=1 over seeds); one seed: "one seed: no verdict"; none: "not measured"."""
    if len(diffs) == 0:
        return NOT_MEASURED
    if len(diffs) == 1:
        return ONE_SEED
    mean, sd = mean_sd(diffs)
    if mean > sd:
        return HOLDS
    if -mean > sd:
        return FAILS
    return WITHIN


COLUMNS = ["paper", "id", "claim", "part", "paper_value", "side_a", "side_b", "unit", "a_mean", "a_sd", "b_mean",
           "b_sd", "diff_mean", "diff_sd", "n_seeds", "seeds", "verdict", "note"]


def claims_table(runs: Mapping[int, Mapping[str, str | os.PathLike]],
                 claims: Sequence[Claim] | None = None) -> pd.DataFrame:
    """Measure ``claims`` (default: :func:`select_claims`) on ``runs`` ``{seed: {variant:
    folder}}``: one row per claim and part (domain "all" / "source" / "target" for angle claims,
    "" otherwise), columns :data:`COLUMNS`: the sides' and the difference's mean and sample sd
    over the seeds measured (``n_seeds``, ``seeds``), the :func:`verdict` (:data:`VERDICT_RULE`)
    and a ``note`` naming the seeds left out and why (a missing run, a missing file). A claim no
    seed could measure has one row with verdict "not measured"."""
    claims = select_claims() if claims is None else list(claims)
    rows = []
    for c in claims:
        measured: dict[int, dict[str, tuple[float, float]]] = {}
        notes = []
        for seed in sorted(runs):
            folders = runs[seed]
            missing = [v for v in c.variants if v not in folders or not (Path(folders[v]) / "config.json").is_file()]
            if missing:
                notes.append(f"seed {seed}: no run of {', '.join(missing)}")
                continue
            try:
                measured[seed] = c.measure({v: Path(folders[v]) for v in c.variants})
            except (AsdlabError, OSError, KeyError, ValueError) as err:
                notes.append(f"seed {seed}: {err}")
        base = {"paper": c.paper, "id": c.id, "paper_value": c.paper_value, "side_a": c.sides[0],
                "side_b": c.sides[1], "unit": c.unit, "note": "; ".join(notes)}
        parts = list(dict.fromkeys(p for m in measured.values() for p in m))
        if not parts:
            rows.append({**base, "claim": c.text, "part": "", "n_seeds": 0, "seeds": "", "verdict": NOT_MEASURED})
            continue
        for part in parts:
            seeds = [s for s in measured if part in measured[s]]
            a = [measured[s][part][0] for s in seeds]
            b = [measured[s][part][1] for s in seeds]
            d = [x - y for x, y in zip(a, b)]
            (am, asd), (bm, bsd), (dm, dsd) = mean_sd(a), mean_sd(b), mean_sd(d)
            rows.append({**base, "claim": f"{c.text} [{part}]" if part else c.text, "part": part,
                         "a_mean": am, "a_sd": asd, "b_mean": bm, "b_sd": bsd, "diff_mean": dm, "diff_sd": dsd,
                         "n_seeds": len(seeds), "seeds": " ".join(map(str, seeds)), "verdict": verdict(d)})
    return pd.DataFrame(rows, columns=COLUMNS)


def claim_rows(table: pd.DataFrame, paper) -> pd.DataFrame:
    """The rows of ``table`` (:func:`claims_table`) that concern seed paper ``paper`` (``"004"``,
    ``"seed004"`` or ``4``): its own claims and its methods against ``ae_mse`` and ``raw_spec``."""
    key = _paper_key(paper)
    if key is None:
        raise ConfigError(f"paper={paper!r}: not a seed paper; choose from {', '.join('seed' + p for p in PAPERS)}")
    return table[table["paper"] == key].reset_index(drop=True)


def claims_grid(table: pd.DataFrame) -> pd.DataFrame | None:
    """Seed 000 Table 2 from the measured claims (:func:`claims_table`): the official score of
    every SC x FeatEx cell the grid claims compare, as a fraction, mean over seeds, indexed by
    ``SC`` with one column per ``SC(FeatEx)`` (the form of :func:`asdlab.runs.sweeps.grid_table`,
    NaN where no cell); the sd over seeds in ``attrs["sd"]`` (same form) and the seeds in
    ``attrs["seeds"]``. None when the table holds no grid claim."""
    rows = table[table["id"].astype(str).str.startswith("seed000/grid-")]
    cells: dict[tuple[int, int], tuple[float, float]] = {}
    for r in rows.itertuples():
        for side, mean, sd in ((r.side_a, r.a_mean, r.a_sd), (r.side_b, r.b_mean, r.b_sd)):
            m = re.fullmatch(r"SC(\d+)/FX(\d+)", str(side))
            if m and np.isfinite(mean):
                cells[(int(m.group(1)), int(m.group(2)))] = (mean / 100.0, sd / 100.0)
    if not cells:
        return None
    long = pd.DataFrame([{"SC": a, "SC(FeatEx)": b, "mean": v[0], "sd": v[1]} for (a, b), v in cells.items()])
    mean, sd = (long.pivot(index="SC", columns="SC(FeatEx)", values=c).sort_index().sort_index(axis=1)
                for c in ("mean", "sd"))
    mean.attrs.update(sd=sd, seeds=" / ".join(sorted(set(map(str, rows["seeds"])))))
    return mean


def format_mean_sd(mean: float, sd: float, unit: str = "%", signed: bool = False) -> str:
    """``"61.7 ± 1.2"`` (digits by ``unit``: 1 for %, 2 for deg, 3 for ARI); the mean alone when
    ``sd`` is NaN (one seed); ``""`` when ``mean`` is NaN."""
    if mean is None or not np.isfinite(mean):
        return ""
    digits = DIGITS.get(unit, 2)
    text = f"{mean:+.{digits}f}" if signed else f"{mean:.{digits}f}"
    return text if sd is None or not np.isfinite(sd) else f"{text} ± {sd:.{digits}f}"


def claims_markdown(table: pd.DataFrame, title: str | None = None, command: str | None = None) -> str:
    """``table`` (:func:`claims_table`) as a markdown table: claim, paper's value, the measured
    sides and difference as mean ± sd over seeds, seeds, verdict (and notes); the verdict rule
    and, when given, the command that produced it underneath."""
    def cell(x) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    head = ["Paper", "Claim (A > B)", "Paper's value", "A measured", "B measured", "A - B", "Seeds", "Verdict"]
    lines = ([f"## {title}", ""] if title else []) + ["| " + " | ".join(head) + " |",
                                                     "|" + "---|" * len(head)]
    notes = []
    for r in table.itertuples(index=False):
        unit = "" if r.unit == "ARI" else f" {r.unit}"
        a = format_mean_sd(r.a_mean, r.a_sd, r.unit)
        b = format_mean_sd(r.b_mean, r.b_sd, r.unit)
        d = format_mean_sd(r.diff_mean, r.diff_sd, r.unit, signed=True)
        verdict_cell = r.verdict
        if isinstance(r.note, str) and r.note:
            note = f"{r.id}: {r.note}"
            if note not in notes:
                notes.append(note)
            verdict_cell += f" [{notes.index(note) + 1}]"
        lines.append("| " + " | ".join(cell(x) for x in (
            f"seed {r.paper}", r.claim, r.paper_value, f"{r.side_a}: {a}{unit}" if a else "",
            f"{r.side_b}: {b}{unit}" if b else "", f"{d}{unit}" if d else "", r.n_seeds, verdict_cell)) + " |")
    lines += ["", VERDICT_RULE, "Units: official score in %, angles in degrees, ARI (adjusted Rand index) as is."]
    if notes:
        lines += [""] + [f"[{i}] {n}" for i, n in enumerate(notes, 1)]
    if command:
        lines += ["", f"Produced by: `{command}`"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# the measured table, for notebooks


CLAIMS_HOWTO = ("No measured claims table (`docs/claims.csv`): `python benchmarks/claims.py --data DATA "
                "--seeds 0 1 2 --out docs/claims.md` measures the claims and writes `docs/claims.csv` next "
                "to the markdown; or pass the notebook parameter `claims_csv`.")
"""The one line a notebook prints when :func:`load_claims` finds no table."""

_TEXT_COLUMNS = ("paper", "id", "claim", "part", "paper_value", "side_a", "side_b", "unit", "seeds", "verdict",
                 "note")


CLAIMS_FILES = {"dcase2024": "claims.csv", "dcase2020": "claims2020.csv"}
"""The repository's measured tables in ``docs/``, by the factory style of the data they were
measured on: every claim on the ``dcase2024``-style course data, seed 004's (Figure 1) again on
the ``dcase2020``-style course data, the paper's own setting (notebook 02's default)."""


def load_claims(path: str | os.PathLike | None = None, style: str = "dcase2024") -> pd.DataFrame | None:
    """The measured claims table (columns :data:`COLUMNS`, as :func:`claims_table` gives it)
    from the CSV ``benchmarks/claims.py`` writes next to its markdown.

    ``path``: that CSV; None = the repository's table of data of ``style``
    (:data:`CLAIMS_FILES`: ``docs/claims.csv`` or ``docs/claims2020.csv``), and then None when
    it is absent. A given ``path`` that is missing or unreadable, or a CSV without the columns,
    is a :class:`ConfigError`. Text cells stay text (empty, not NaN; paper ids ``"004"``); the
    file read is in ``attrs["path"]``."""
    if path is None:
        import asdlab

        if style not in CLAIMS_FILES:
            raise ConfigError(f"style={style!r}: no measured claims table of that style; use one of "
                              f"{', '.join(CLAIMS_FILES)}")
        path = Path(asdlab.__file__).resolve().parents[1] / "docs" / CLAIMS_FILES[style]
        if not path.is_file():
            return None
    elif not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"claims_csv={path!r}: must be None or the path of a claims CSV "
                          f"(benchmarks/claims.py writes one)")
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{path}: no such claims CSV (benchmarks/claims.py --out FILE.md writes FILE.csv)")
    numeric = [c for c in COLUMNS if c not in _TEXT_COLUMNS]
    try:
        table = pd.read_csv(path, dtype={c: str for c in _TEXT_COLUMNS}, keep_default_na=False,
                            na_values={c: ["", "nan", "NaN"] for c in numeric})
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise ConfigError(f"{path}: not a claims CSV ({type(err).__name__}: {err})") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError(f"{path}: not a claims CSV of benchmarks/claims.py, it lacks column(s) "
                          f"{', '.join(missing)}")
    table = table[COLUMNS].copy()
    table["paper"] = [_paper_key(p) or p for p in table["paper"]]
    table.attrs["path"] = str(path)
    return table
