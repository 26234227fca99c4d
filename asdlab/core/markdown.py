"""Data frames as GitHub markdown tables (no tabulate dependency)."""

from __future__ import annotations

import pandas as pd


def markdown_table(df: pd.DataFrame, index: bool = False) -> str:
    """``df`` as a markdown table: a header row, a separator, one row per record; ``index`` adds
    the index level(s) as leading columns. Cells are ``str(value)`` with ``|`` escaped and
    newlines turned into spaces; NaN prints as an empty cell."""
    t = df.reset_index() if index else df
    cell = lambda x: "" if (isinstance(x, float) and x != x) else str(x).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(cell(c) for c in t.columns) + " |", "|" + "---|" * len(t.columns)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in t.itertuples(index=False)]
    return "\n".join(lines)
