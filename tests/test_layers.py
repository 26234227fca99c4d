"""The package layering of asdlab: data flows down, nothing imports upward, no cycles.

Every ``import asdlab.X`` / ``from asdlab.X import ...`` anywhere in a module (inside functions
too) must name a layer at or below the module's own layer. Within one layer, modules may import
each other, but the module import graph as a whole must be acyclic.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "asdlab"

LAYERS = ["core", "data", "features", "metrics", "nn", "train", "backends", "artifacts", "methods", "runs",
          "analysis", "viz", "report", "notebook", "cli", "__main__"]
"""Bottom to top. ``asdlab`` itself (the version string) counts as the bottom."""


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # `import asdlab`: the package's __init__ holds only the version
        return -1
    return LAYERS.index(parts[1])


def asdlab_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of an asdlab module in ``path``, at any depth."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "asdlab"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "asdlab":
                continue
            # `from asdlab.pkg import sub` imports the submodule when it is one
            for a in node.names:
                sub = f"{mod}.{a.name}"
                is_module = (ROOT.parent / Path(*sub.split("."))).with_suffix(".py").exists() or \
                    (ROOT.parent / Path(*sub.split(".")) / "__init__.py").exists()
                out.append((node.lineno, sub if is_module else mod))
    return out


MODULES = sorted(ROOT.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    unknown = sorted({module_name(p) for p in MODULES if module_name(p) != "asdlab"
                      and module_name(p).split(".")[1] not in LAYERS})
    assert not unknown, f"modules outside the known layers: {unknown}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_upward_import(path):
    me = module_name(path)
    if me == "asdlab":
        return
    mine = layer_of(me)
    upward = [f"line {line}: {mod} ({LAYERS[layer_of(mod)]})" for line, mod in asdlab_imports(path)
              if layer_of(mod) > mine]
    assert not upward, f"{me} ({LAYERS[mine]}) imports from layers above it: {upward}"


def test_no_recipe_imports_another_recipe():
    shared = {"__init__.py", "pipeline.py", "registry.py"}  # the stages recipes compose
    recipes = {module_name(p) for p in (ROOT / "methods").glob("*.py") if p.name not in shared}
    assert {"asdlab.methods.autoencoder", "asdlab.methods.gram_mfn"} <= recipes
    bad = [(module_name(p), mod) for p in (ROOT / "methods").glob("*.py") if module_name(p) in recipes
           for _, mod in asdlab_imports(p) if mod in recipes and mod != module_name(p)]
    assert not bad, f"recipes import other recipes: {bad}"


def test_import_graph_has_no_cycle():
    graph = {module_name(p): {m for _, m in asdlab_imports(p)} for p in MODULES}
    # a package's __init__ re-exporting its submodules is not a cycle with them
    for mod, deps in graph.items():
        deps.discard(mod)
        deps -= {d for d in list(deps) if mod.startswith(d + ".") or d == "asdlab"}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt in graph and state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node)


def test_the_checker_sees_imports_inside_functions():
    # asdlab.methods.pipeline imports the audio reader only inside log_mels / waveforms
    found = {mod for _, mod in asdlab_imports(ROOT / "methods" / "pipeline.py")}
    assert "asdlab.data.audio" in found
    top_level = {n.module for n in ast.parse((ROOT / "methods" / "pipeline.py").read_text()).body
                 if isinstance(n, ast.ImportFrom)}
    assert "asdlab.data.audio" not in top_level
    assert layer_of("asdlab.runs") > layer_of("asdlab.methods") > layer_of("asdlab.data")
