"""The method registry: a :class:`Method` is a recipe's presets, its parameter
:class:`~asdlab.core.schema.Schema` and its ``run(ctx) -> MethodOutput``;
:func:`asdlab.runs.run_method` runs one into a run folder."""

from __future__ import annotations

import dataclasses
from typing import Callable

from asdlab.core.errors import ConfigError
from asdlab.methods.pipeline import MethodOutput, RunContext
from asdlab.core.schema import Schema

PRESETS = ("smoke", "course", "paper")


@dataclasses.dataclass
class Method:
    """A registered method: ``name``, one-line ``summary``, ``presets`` name -> params dict,
    ``run(ctx) -> MethodOutput``, ``schema`` (the rule of every parameter of the presets) and
    ``backend(params, seed) -> (name, parameters)``: the registered back end it scores with."""

    name: str
    summary: str
    presets: dict[str, dict]
    run: Callable[[RunContext], MethodOutput]
    schema: Schema
    backend: Callable[[dict, int], tuple[str, dict]] | None = None

    def default_backend(self, params: dict, seed: int = 0) -> tuple[str, dict] | None:
        """``(name, parameters)`` of the registered back end with which the method scores its
        clips given its ``params`` and ``seed``: re-scoring a run with it reproduces the run's
        scores; None when no registered back end does (ensembles of several networks)."""
        return self.backend(params, seed) if self.backend else None

    def params(self, preset: str, overrides: dict | None = None) -> dict:
        """The preset's parameters with ``overrides`` applied, checked and normalised by the
        schema; an unknown preset or key, or a value the schema refuses, is a
        :class:`ConfigError` naming the method and the parameter, raised before any work."""
        if preset not in self.presets:
            raise ConfigError(f"method {self.name!r} has no preset {preset!r} (choose from {sorted(self.presets)})")
        params = dict(self.presets[preset])
        for key, value in (overrides or {}).items():
            if key not in params:
                raise ConfigError(f"method {self.name!r} has no parameter {key!r} (known: {sorted(params)})")
            params[key] = value
        return self.schema.validate(params, self.name)


REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to the registry (names are unique). Every preset must have exactly the
    schema's parameters and pass it."""
    if method.name in REGISTRY:
        raise ValueError(f"method {method.name!r} is already registered")
    missing = set(PRESETS) - set(method.presets)
    if missing:
        raise ValueError(f"method {method.name!r} lacks presets {sorted(missing)}")
    for preset, values in method.presets.items():
        keys, schema_keys = set(values), set(method.schema.params)
        if keys != schema_keys:
            raise ValueError(f"method {method.name!r}: preset {preset} and the schema differ: parameters "
                             f"without a schema entry {sorted(keys - schema_keys)}, schema entries without "
                             f"a parameter {sorted(schema_keys - keys)}")
        method.schema.validate(values, method.name, f"preset {preset}")
    REGISTRY[method.name] = method
    return method


def get_method(name: str) -> Method:
    """The registered method ``name``; a clear error lists the known ones."""
    _load_builtin()
    if name not in REGISTRY:
        raise ConfigError(f"unknown method {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def list_methods() -> list[Method]:
    """All registered methods, by name."""
    _load_builtin()
    return [REGISTRY[k] for k in sorted(REGISTRY)]


def _load_builtin() -> None:
    # the recipe modules register themselves on import
    from asdlab.methods import (autoencoder, contrastive_ae_cnn, gram_mfn, guided_clustering,  # noqa: F401
                                raw_spec, sc_adacos, sc_noisy_arcmix)
