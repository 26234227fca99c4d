"""The same embeddings, every back end: a run re-scored in memory by each applicable back end
(:mod:`asdlab.runs.rescore`, no retraining, no folders written), with its official metrics."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from asdlab.core.errors import AsdlabError
from asdlab.metrics import labelled_sections, metrics_table, official_score, section_metrics, summary_row
from asdlab.runs.rescore import applicable_backends, default_backend, load_inputs, score_table

BACKEND_TABLE_COLUMNS = ["backend", "params", "run's own", "official score", "AUC source", "AUC target",
                         "pAUC", "seconds", "note"]


def backend_table(run_dir: str | os.PathLike, backends: list[str] | None = None) -> pd.DataFrame:
    """One row per back end (``backends``, default: every applicable one, registry order) scoring
    the test clips of the run folder ``run_dir`` from its saved embeddings / centers / residuals.

    Columns: backend, params (as used: the run's own parameters for the run's own back end, the
    run's seed), run's own (True for the back end that produced the run's scores), official score,
    AUC source, AUC target and pAUC (the summary row under the run's protocol: harmonic means over
    the sections, or 2020 means; under dcase2021 pAUC is the harmonic mean over both domains'
    pAUCs; fractions; on the sections whose test labels are known), seconds, note
    (why a back end could not score this run, or that the test labels are unknown; metrics NaN).
    """
    inputs = load_inputs(run_dir)
    names = applicable_backends(inputs) if backends is None else list(backends)
    own = default_backend(inputs.config)
    protocol = inputs.config.get("protocol")  # the run's own (None: a run made before protocols)
    rows = []
    for name in names:
        row = {"backend": name, "params": "", "run's own": False,
               "official score": np.nan, "AUC source": np.nan, "AUC target": np.nan, "pAUC": np.nan,
               "seconds": np.nan, "note": ""}
        start = time.perf_counter()
        try:
            scores, params = score_table(name, inputs)
            row["params"] = ", ".join(f"{k}={v}" for k, v in params.items())
            row["run's own"] = own is not None and own[0] == name and all(
                params.get(k) == v for k, v in own[1].items())
            labelled = labelled_sections(scores)
            if labelled.empty:
                row["note"] = "test labels unknown: no metrics"
            else:
                if len(labelled) < len(scores):
                    row["note"] = "metrics of the labelled sections only"
                sections = section_metrics(labelled, protocol)
                table = metrics_table(sections, protocol)
                hmean = table.loc[summary_row(table)]
                paucs = np.array([hmean[c] for c in hmean.index if str(c).startswith("pAUC")])  # dcase2021: per domain
                row.update({"official score": official_score(sections, protocol),
                            "pAUC": hmean["pAUC"] if "pAUC" in hmean.index else len(paucs) / np.sum(1 / paucs),
                            "AUC source": hmean.get("AUC source", np.nan),
                            "AUC target": hmean.get("AUC target", np.nan)})
        except (AsdlabError, ValueError, np.linalg.LinAlgError) as err:
            row["note"] = str(err)
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
    return pd.DataFrame(rows, columns=BACKEND_TABLE_COLUMNS)
