"""Notebook 01 on a dataset the factory did not write: official DCASE file names, noise clips,
no ground-truth folder. The method report must still train, show the official table (with the
jackknife interval of the official score) and the table of every applicable back end (re-scoring
the run's own embeddings)."""

from __future__ import annotations

import json

import jupytext
import papermill as pm
import pytest

from conftest import make_dcase_tree

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _outputs(nb: dict, needle: str, mime: str = "text/plain") -> str:
    """The ``mime`` outputs (and streams) of the code cells whose source mentions ``needle``."""
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and needle in "".join(cell["source"]):
            for o in cell.get("outputs", []):
                out.append("".join(o.get("data", {}).get(mime, "")) + "".join(o.get("text", "")))
    return "\n".join(out)


@pytest.mark.parametrize("method,backends", [("tastgram_noisy_arcmix", ["class_posterior", "cosine_center", "kmeans",
                                                                       "knn", "gmm", "mahalanobis"])])
def test_method_report_runs_on_real_dcase_layout_with_every_backend(tmp_path, method, backends):
    data = make_dcase_tree(tmp_path / "data", machines={"ToyCar": "car_A1_spd_7", "fan": "noAttribute"},
                           seconds=1.0, n_train=5, n_test=3)
    assert not (data / "ground_truth").exists()
    nb = jupytext.read(ROOT / "notebooks" / "01_method_report.py")
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(nb, str(out), kernel_name="python3", progress_bar=False,
                        parameters={"preset": "smoke", "data_dir": str(data), "runs_dir": str(tmp_path / "runs"),
                                    "method": method, "interactive": False})
    executed = json.loads(out.read_text())
    table = _outputs(executed, "backend_table")
    for name in backends:
        assert name in table, f"back end {name} missing from the table:\n{table}"
    assert "mse" not in table.split()  # the AE-only back end does not apply to a MobileFaceNet run
    assert (tmp_path / "runs" / method / "embeddings.npy").is_file()
    summary = json.loads((tmp_path / "runs" / method / "summary.json").read_text())
    caption = (f"Official score (hmean of every AUC and pAUC): {100 * summary['official_score']:.2f} % "
               f"± {100 * summary['official_ci95']:.2f} % (jackknife 95 % interval)")
    assert caption in _outputs(executed, "official_ci95(run)", "text/html")


def test_figure1_notebook_on_dcase2020_names_it_did_not_write(tmp_path, write_wav):
    """Notebook 02 on a non-factory tree in the DCASE 2020 layout (``<machine>/{train,test}``,
    ``{normal,anomaly}_id_XX_NNNNNNNN.wav``, two machine IDs, no domains, no ground truth): the
    classes are the machine IDs, the angle table has no target rows, and the page renders."""
    seed = 0
    for machine in ("fan", "pump"):
        for section in ("00", "02"):
            for split, label, n in (("train", "normal", 6), ("test", "normal", 3), ("test", "anomaly", 3)):
                for i in range(n):
                    write_wav(tmp_path / "data" / machine / split / f"{label}_id_{section}_{i:08d}.wav", 1.0, seed=seed)
                    seed += 1
    nb = jupytext.read(ROOT / "notebooks" / "02_noisy_arcmix_angles.py")
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(nb, str(out), kernel_name="python3", progress_bar=False,
                        parameters={"preset": "smoke", "data_dir": str(tmp_path / "data"),
                                    "runs_dir": str(tmp_path / "runs"), "interactive": False,
                                    "methods": ["tastgram_ce", "tastgram_noisy_arcmix"]})
    executed = json.loads(out.read_text())
    summary = _outputs(executed, "summary = angle_summary_by_domain", "text/html")
    assert ">all<" in summary and ">target<" not in summary and "median_normal_angle" in summary
    classes = (tmp_path / "runs" / "tastgram_ce" / "classes.csv").read_text()
    assert classes.count("\n") == 1 + 4  # header + fan/00, fan/02, pump/00, pump/02
