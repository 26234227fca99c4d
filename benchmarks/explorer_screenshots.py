"""Screenshots of the angle explorer in a real JupyterLab: ``docs/explorer_sphere.png``,
``docs/explorer_pinned.png`` and ``docs/explorer_clicked.png``.

Makes smoke factory data (``dcase2020`` style, fan + pump) and the smoke runs notebook 02
needs, starts JupyterLab on 127.0.0.1 (random port, a token, a temporary root holding a copy of
``notebooks/02_noisy_arcmix_angles.py`` with smoke parameters), opens the copy as a notebook
through jupytext, runs every cell in headless Chromium (Playwright driving the system Chromium,
:func:`asdlab.report.browser.find_chromium`) and photographs the explorer::

    .venv/bin/python benchmarks/explorer_screenshots.py [--out docs]

``tests/test_jupyterlab_browser.py`` drives the same session (:class:`LabSession`). Needs
``playwright`` (the ``dev`` extra) and a Chromium; never runs ``playwright install``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02_noisy_arcmix_angles.py"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--mute-audio", "--no-first-run",
                 "--disable-background-networking", "--autoplay-policy=no-user-gesture-required"]
LAB_SETTINGS = {  # JupyterLab user settings of the session: start the kernel, render every cell
    "notebook-extension/tracker": {"autoStartDefaultKernel": True, "windowingMode": "none"},
    "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


def smoke_runs(folder: Path, methods=("tastgram_ce",)) -> tuple[Path, Path]:
    """Smoke ``dcase2020`` factory data (fan, pump) and the smoke runs ``methods`` under
    ``folder``; returns (data root, runs folder)."""
    from asdlab.data.synth import generate_dataset
    from asdlab.runs import run_method

    data = generate_dataset(folder / "data", "smoke", machines=["fan", "pump"], progress=False, style="dcase2020")
    for m in methods:
        run_method(m, data, folder / "runs" / m, preset="smoke", seed=0, progress=False)
    return data, folder / "runs"


def notebook_copy(folder: Path, data: Path, runs: Path, methods=("tastgram_ce",),
                  explorer_run: str = "tastgram_ce") -> Path:
    """``folder/02_noisy_arcmix_angles.py``: notebook 02 with its parameters cell set to smoke
    data ``data``, runs ``runs``, ``methods`` and ``interactive = True`` (plus the repository's
    jupytext.toml next to it)."""
    params = (f'preset = "smoke"\ndata_dir = {str(data)!r}\nstyle = "dcase2020"\nruns_dir = {str(runs)!r}\n'
              f'seed = 0\ninteractive = True\nmethods = {list(methods)!r}\nexplorer_run = {explorer_run!r}\n'
              f'claims_csv = None\n')
    src = NOTEBOOK.read_text()
    new, n = re.subn(r'(# %% tags=\["parameters"\]\n).*?(\n# %%)', lambda m: m.group(1) + params + m.group(2),
                     src, count=1, flags=re.S)
    if n != 1:
        raise RuntimeError(f"{NOTEBOOK}: no parameters cell found")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "jupytext.toml", folder / "jupytext.toml")
    out = folder / NOTEBOOK.name
    out.write_text(new)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server on 127.0.0.1 serving ``root`` (random port, random token, its own
    settings and workspaces, the app exposed as ``window.jupyterapp``); its log in ``self.log``."""

    def __init__(self, root: Path, timeout: float = 60):
        self.root, self.port, self.token = Path(root), _free_port(), os.urandom(12).hex()
        self.home = Path(tempfile.mkdtemp(prefix="asdlab-lab-"))
        for name, values in LAB_SETTINGS.items():
            path = self.home / "settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        self.log = self.home / "server.log"
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
               f"--port={self.port}", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               f"--LabApp.user_settings_dir={self.home / 'settings'}",
               f"--LabApp.workspaces_dir={self.home / 'workspaces'}", "--LabApp.expose_app_in_browser=True",
               "--ServerApp.open_browser=False"]
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(self.home / "config"), JUPYTER_RUNTIME_DIR=str(self.home / "rt"))
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"JupyterLab did not start: {self.log_text()[-2000:]}") from None
                time.sleep(0.3)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_errors(self) -> list[str]:
        """Lines of the server log (kernels included) that report an error or a traceback."""
        return [line for line in self.log_text().splitlines()
                if line.startswith("[E ") or "Traceback" in line or "Error:" in line]

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


KERNEL_HOOK = """() => { window.__kernelLog = []; const k = window.__nb.sessionContext.session.kernel;
  k.iopubMessage.connect((_, msg) => { const t = msg.header.msg_type;
    if (t === 'error' || (t === 'stream' && msg.content.name === 'stderr'))
      window.__kernelLog.push(t === 'error' ? msg.content.ename + ': ' + msg.content.evalue : msg.content.text); }); }"""
IDLE = "window.__nb.sessionContext.session.kernel.status === 'idle'"
FIGURES = """() => { const out = document.querySelector('.widget-slider').closest('.jp-OutputArea-output');
  return Array.from(out.querySelectorAll('.js-plotly-plot')).map(gd => ({
    title: (gd.layout.title && gd.layout.title.text) || '', width: gd._fullLayout.width,
    out: out.getBoundingClientRect().width,
    data: gd.data.map(t => ({name: t.name || '', type: t.type, x: Array.from(t.x || []), y: Array.from(t.y || [])}))})); }"""

CIRCLE_DRAWN = """() => Array.from(document.querySelector('.widget-slider').closest('.jp-OutputArea-output')
  .querySelectorAll('.js-plotly-plot')).some(gd => gd._fullLayout && gd._fullLayout.xaxis
  && /^circle/.test((gd.layout.title && gd.layout.title.text) || '') && gd.data.some(t => t.name === 'test normal'))"""


class LabSession:
    """JupyterLab + headless Chromium with the explorer notebook executed.

    ``LabSession(folder, methods)``: smoke data and runs under ``folder``, the server, the
    notebook opened (jupytext) and run; ``console`` (browser errors), ``kernel_log()`` (error
    and stderr messages of the kernel), ``lab.log_errors()``; helpers to move the explorer's
    controls. Use as a context manager."""

    def __init__(self, folder: Path, methods=("tastgram_ce",), viewport=(1280, 2400), timeout_s: float = 180):
        from playwright.sync_api import sync_playwright

        from asdlab.report.browser import find_chromium

        data, runs = smoke_runs(Path(folder), methods)
        nb = notebook_copy(Path(folder) / "lab", data, runs, methods, methods[0])
        self.timeout_ms = int(timeout_s * 1000)
        self.lab = JupyterLab(nb.parent)
        self.console: list[str] = []
        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            self.page = self.browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            self.page.set_default_timeout(self.timeout_ms)
            self.page.on("console", lambda m: m.type == "error" and self.console.append(f"{m.text} ({m.location.get('url', '')})"))
            self.page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))
            self._run(nb.name)
        except BaseException:
            self.close()
            raise

    def _run(self, name: str) -> None:
        page = self.page
        page.goto(f"{self.lab.base}/lab?reset&token={self.lab.token}")
        page.wait_for_function("window.jupyterapp && window.jupyterapp.commands.hasCommand('docmanager:open')")
        page.evaluate("async (path) => { window.__nb = await window.jupyterapp.commands.execute("
                      "'docmanager:open', {path, factory: 'Jupytext Notebook'}); await window.__nb.context.ready;"
                      " await window.__nb.sessionContext.ready; }", name)
        page.wait_for_function("window.__nb.sessionContext.session && window.__nb.sessionContext.session.kernel && " + IDLE)
        page.evaluate(KERNEL_HOOK)
        page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")  # file browser away
        page.evaluate("async () => { window.jupyterapp.shell.activateById(window.__nb.id);"
                      " await window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        page.wait_for_selector(".widget-slider")
        self.wait_idle()
        # at least four figures drawn, the histogram and the sphere among them (a loaded machine
        # draws them one by one)
        try:
            page.wait_for_function(f"(() => {{ const f = ({FIGURES})(); return f.length >= 4 && f.every(g => g.width > 0)"
                                   " && f.some(g => g.data.some(t => t.name.startsWith('test normal')))"
                                   " && f.some(g => /^(sphere|circle)/.test(g.title)); })()")
        except Exception as e:  # say what was drawn and what the kernel, browser and server said
            raise RuntimeError(f"explorer figures not drawn: {self.state()}") from e

    def state(self) -> str:
        """What the page shows now: each figure's title, width and trace names; the kernel's status
        and error messages, the browser console, the server log's errors (a failure's message)."""
        figs = self.page.evaluate(f"() => {{ try {{ return ({FIGURES})(); }} catch (e) {{ return String(e); }} }}")
        if not isinstance(figs, str):
            figs = [(f["title"], f["width"], [t["name"] for t in f["data"]]) for f in figs]
        status = self.page.evaluate("window.__nb.sessionContext.session.kernel.status")
        return (f"figures {figs}; kernel {status}; kernel log {self.kernel_log()[-5:]}; console {self.console[-5:]};"
                f" server log {self.lab.log_errors()[-5:]}")

    def wait_idle(self) -> None:
        """Until the kernel is idle and stays so for 0.5 s (a widget event has been handled)."""
        for _ in range(2):
            self.page.wait_for_timeout(500)
            self.page.wait_for_function(IDLE)

    def kernel_log(self) -> list[str]:
        return self.page.evaluate("window.__kernelLog")

    def figures(self) -> dict[str, dict]:
        """The explorer's plotly figures as drawn in the page: hist, sphere, beta, margin, clip
        (each: title, width, out = the output area's width, data = traces' name / type / x / y)."""
        figs = self.page.evaluate(FIGURES)
        named = {}
        for f in figs:
            names = [t["name"] for t in f["data"]]
            if f["title"].startswith(("sphere", "circle")):
                named["sphere"] = f
            elif any(n.startswith("test normal") for n in names):
                named["hist"] = f
            elif f["title"].startswith("lambda") or "margin" in f["title"]:
                named["margin"] = f
            elif any(t["type"] == "heatmap" for t in f["data"]):
                named["clip"] = f
            else:
                named.setdefault("beta", f)
        return named

    def explorer(self):
        return self.page.locator(".jp-OutputArea-output", has=self.page.locator(".widget-slider"))

    def set_slider(self, description: str, value: float) -> None:
        """Type ``value`` into the readout of the slider labelled ``description``."""
        readout = self.explorer().locator(".widget-slider", has_text=description).locator(".widget-readout")
        readout.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(str(value))
        self.page.keyboard.press("Enter")
        self.wait_idle()

    def select(self, description: str, label: str) -> None:
        self.explorer().locator(".widget-dropdown", has_text=description).locator("select").select_option(label=label)
        self.wait_idle()

    def button(self, text: str) -> None:
        self.explorer().locator("button", has_text=text).first.click()
        self.wait_idle()

    def click_test_clip(self) -> None:
        """Click the first normal test clip on the circle (2-D view: an SVG scatter)."""
        plot = self.explorer().locator(".js-plotly-plot").nth(self._index("sphere"))
        plot.scroll_into_view_if_needed()
        self.page.wait_for_timeout(300)
        box = plot.bounding_box()
        xy = self.page.evaluate("""(k) => { const gd = document.querySelector('.widget-slider').closest('.jp-OutputArea-output')
            .querySelectorAll('.js-plotly-plot')[k]; const i = gd.data.findIndex(t => t.name === 'test normal');
            const t = gd.data[i], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const px = (x, y) => [xa._offset + xa.d2p(x), ya._offset + ya.d2p(y)];
            const others = [];  // every other drawn point: click the clip farthest from them all
            gd.data.forEach((u, j) => (u.x || []).forEach((x, n) => { if (x !== null)
              others.push([j, n, ...px(x, u.y[n])]); }));
            let best = null, bestD = -1;
            t.x.forEach((x, n) => { const [a, b] = px(x, t.y[n]); let d = Infinity;
              for (const [j, m, c, e] of others) if (!(j === i && m === n)) d = Math.min(d, (a - c) ** 2 + (b - e) ** 2);
              if (d > bestD) { bestD = d; best = [a, b]; } });
            return best; }""", self._index("sphere"))
        self.page.mouse.move(box["x"] + xy[0], box["y"] + xy[1])
        self.page.wait_for_timeout(300)
        self.page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
        try:
            self.page.wait_for_function("""() => document.querySelector('.widget-slider').closest('.jp-OutputArea-output')
                .innerText.includes('.wav')""", timeout=30000)
        except Exception as err:
            raise RuntimeError(f"clicking the test clip at {xy} of the plot at {box} showed no clip") from err
        self.wait_idle()

    def _index(self, name: str) -> int:
        figs = self.page.evaluate(FIGURES)
        target = self.figures()[name]
        return next(k for k, f in enumerate(figs) if f["title"] == target["title"] and f["data"] == target["data"])

    def shot(self, path: Path, top, bottom=None) -> Path:
        """PNG of the explorer from the top of locator ``top`` to the bottom of ``bottom``."""
        top.evaluate("el => el.scrollIntoView({block: 'start'})")
        self.page.wait_for_timeout(300)
        a = top.bounding_box()
        b = (bottom or top).bounding_box()
        out = self.explorer().bounding_box()
        self.page.screenshot(path=str(path), clip={"x": out["x"], "y": a["y"] - 4, "width": out["width"],
                                                   "height": b["y"] + b["height"] - a["y"] + 8})
        return path

    def close(self) -> None:
        for step in (lambda: self.browser.close(), lambda: self._pw.stop(), lambda: self.lab.close()):
            try:
                step()
            except Exception:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def take_screenshots(s: LabSession, out: Path) -> list[Path]:
    """The three docs screenshots from a running :class:`LabSession` (changes its settings):
    the sphere, an ArcFace setting over a pinned Noisy-ArcMix one, a clicked clip (circle)."""
    out.mkdir(parents=True, exist_ok=True)
    plots = s.explorer().locator(".js-plotly-plot")
    figs = s.page.evaluate(FIGURES)
    k = {name: next(i for i, f in enumerate(figs) if f["title"] == fig["title"] and f["data"] == fig["data"])
         for name, fig in s.figures().items()}
    rows = s.explorer().locator(".widget-hbox")
    paths = [s.shot(out / "explorer_sphere.png", rows.first, plots.nth(k["sphere"]))]
    s.button("pin this setting")
    s.select("loss", "ArcFace")
    s.set_slider("margin m", 1.2)
    paths.append(s.shot(out / "explorer_pinned.png", s.explorer().locator(".widget-html").first, plots.nth(k["hist"])))
    s.explorer().locator(".widget-toggle-button", has_text="circle").click()
    s.wait_idle()
    s.page.wait_for_function(CIRCLE_DRAWN)  # the 2-D view's axes exist before a point is clicked
    s.click_test_clip()
    paths.append(s.shot(out / "explorer_clicked.png", plots.nth(k["sphere"]), plots.nth(k["clip"])))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder of the PNGs (default docs/)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="asdlab-shots-") as tmp, \
            LabSession(Path(tmp), methods=("tastgram_ce", "tastgram_noisy_arcmix")) as s:
        for p in take_screenshots(s, args.out):
            print(f"{p}  {p.stat().st_size / 1024:.0f} KB")
        problems = s.console + s.kernel_log() + s.lab.log_errors()
        if problems:
            print("problems seen:\n" + "\n".join(problems), file=sys.stderr)


if __name__ == "__main__":
    main()
