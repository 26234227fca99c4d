"""Opening and saving a notebook in JupyterLab leaves its .py file unchanged (issue 17: the
header gained the jupytext version and the kernel's display name: a git diff from opening it)."""

from pathlib import Path

import jupytext
import pytest
from jupytext.config import load_jupytext_config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


def test_the_repository_has_a_jupytext_config_for_the_notebooks():
    config = load_jupytext_config(str(ROOT / "notebooks"))
    assert config is not None and "-language_info" in config.notebook_metadata_filter
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_jupyterlab_save_does_not_change_the_file(path):
    config = load_jupytext_config(str(path.parent))
    text = path.read_text()
    nb = jupytext.reads(text, fmt="py:percent")
    # what JupyterLab adds when it opens and saves a notebook
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"}
    nb.metadata.setdefault("jupytext", {}).setdefault("text_representation", {})["jupytext_version"] = "1.19.6"
    for cell in nb.cells:
        cell.metadata["collapsed"] = False
        cell.metadata["scrolled"] = True
    assert jupytext.writes(nb, fmt="py:percent", config=config) == text
    # papermill finds the kernel's language and the parameters cell after the round trip
    assert jupytext.reads(text, fmt="py:percent").metadata["kernelspec"]["language"] == "python"
    tagged = [c for c in jupytext.reads(text, fmt="py:percent").cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
