"""Tables for display: one number format per column."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler


def format_table(table: pd.DataFrame, precision: int = 1, formats: dict[str, str] | None = None,
                 na_rep: str = "-") -> Styler:
    """A Styler of ``table``: float columns with ``precision`` decimals, the columns named in
    ``formats`` (column -> format string, e.g. ``{"angle_auc": "{:.3f}"}``) with theirs, missing
    values as ``na_rep``. (``Styler.format(dict)`` after ``format(precision=...)`` resets the
    other columns to pandas' 6 decimals; this does not.)"""
    formats = dict(formats or {})
    unknown = [c for c in formats if c not in table.columns]
    if unknown:
        raise KeyError(f"format_table: no column(s) {unknown}; the table has {list(table.columns)}")
    style = table.style
    rest = [c for c in table.columns if c not in formats]
    if rest:
        style = style.format(precision=precision, na_rep=na_rep, subset=rest)
    for column, fmt in formats.items():
        style = style.format(fmt, na_rep=na_rep, subset=[column])
    return style
