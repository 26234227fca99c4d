"""Check report pages in a real browser: headless Chromium counts the plotly figures drawn.

Needs a Chromium (Debian: ``apt-get install chromium``; found as ``$ASDLAB_CHROMIUM``,
``chromium``, ``chromium-browser``, ``google-chrome`` or ``/usr/bin/chromium``). Chromium runs
with a throw-away profile, no sandbox (so it works as root in containers), no GPU and no
background network traffic: a page that needs a CDN shows it by drawing nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from asdlab.core.errors import AsdlabError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")


class BrowserError(AsdlabError):
    """No Chromium found, or Chromium failed on a page."""


def find_chromium() -> str | None:
    """Path of the Chromium to use, or None when there is none."""
    env = os.environ.get("ASDLAB_CHROMIUM")
    for name in ((env,) if env else ()) + CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(page: str | os.PathLike, extra: list[str], budget_ms: int, timeout_s: float) -> str:
    exe = find_chromium()
    if exe is None:
        raise BrowserError("no Chromium found: install it (Debian: apt-get install chromium) or set $ASDLAB_CHROMIUM")
    page = Path(page).resolve()
    if not page.is_file():
        raise BrowserError(f"{page}: no such file")
    with tempfile.TemporaryDirectory(prefix="asdlab-chromium-") as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={int(budget_ms)}",
               *extra, page.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise BrowserError(f"{page}: Chromium did not finish within {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise BrowserError(f"{page}: Chromium exited with status {proc.returncode}: {tail}")
    return proc.stdout


def dump_dom(html_path: str | os.PathLike, budget_ms: int = 5000, timeout_s: float = 120) -> str:
    """The page's DOM after its scripts ran for ``budget_ms`` of virtual time."""
    return _chromium(html_path, ["--dump-dom"], budget_ms, timeout_s)


def count_plots(dom: str) -> int:
    """Plotly figures drawn in ``dom``: ``js-plotly-plot`` elements followed by a drawn
    ``main-svg`` before the next figure starts."""
    starts = [m.start() for m in re.finditer(r'class="[^"]*\bjs-plotly-plot\b', dom)]
    ends = starts[1:] + [len(dom)]
    return sum('class="main-svg"' in dom[a:b] for a, b in zip(starts, ends))


def rendered_plots(html_path: str | os.PathLike, budget_ms: int = 5000) -> int:
    """How many plotly figures Chromium draws on the page ``html_path`` (offline)."""
    return count_plots(dump_dom(html_path, budget_ms))


def screenshot(html_path: str | os.PathLike, png_path: str | os.PathLike, width: int = 1280,
               height: int = 2000, budget_ms: int = 5000) -> Path:
    """Save a ``width`` x ``height`` pixel PNG of the top of the page ``html_path``."""
    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    _chromium(html_path, [f"--screenshot={png_path}", f"--window-size={int(width)},{int(height)}"],
              budget_ms, timeout_s=120)
    if not png_path.is_file():
        raise BrowserError(f"{html_path}: Chromium wrote no screenshot")
    return png_path
