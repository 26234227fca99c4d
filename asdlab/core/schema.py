"""Declarative parameter schemas: what each parameter of a method or a back end may hold, checked
by :meth:`asdlab.methods.Method.params` and :func:`asdlab.backends.registry.check_params` before
any work.

A :class:`Schema` maps every parameter name of a method's presets to a :class:`Param` (type,
range, allowed values, whether None is allowed, an optional normaliser) and may add cross-parameter
:class:`Rule` s. :meth:`Schema.validate` returns a checked (and normalised) copy or raises one
:class:`~asdlab.core.errors.ConfigError` line naming the method, the parameter, the bad value and
what is allowed, e.g. ``method ae_mse: parameter epochs='abc': expected an integer >= 1``.

Values may come from ``--set KEY=VALUE`` (JSON-parsed, else a string), from notebooks or from
presets: integers are accepted for floats, booleans are never numbers, and values are not
converted (``1`` stays ``1`` for a float parameter), so a run's configuration is what was given.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from typing import Any, Callable

from asdlab.core.errors import ConfigError

_KINDS = ("int", "float", "bool", "str", "path", "list", "dict", "any_of")


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter's rule. Build it with :func:`Int`, :func:`Float`, :func:`Bool`,
    :func:`Choice`, :func:`Str`, :func:`PathParam`, :func:`List`, :func:`Dict` or :func:`any_of`.

    ``kind``: one of int, float, bool, str, path, list, dict, any_of; ``min`` / ``max``: the
    range (inclusive unless ``min_open`` / ``max_open``); ``choices``: the allowed values;
    ``none``: None is allowed (a string says what None means); ``item``: the rule of each list
    item or dict value; ``length``: a list's exact length; ``scalar``: a lone item is read as a
    one-item list; ``sep``: a string is split on it into a list; ``options``: the alternatives of
    ``any_of``; ``test``: an extra ``value -> bool``; ``doc``: what is allowed, in words (default:
    generated); ``normalize``: ``value -> value`` applied after the checks (e.g. sorting; to an
    allowed None too); ``help``: what the parameter means, one line (for listings)."""

    kind: str
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    choices: tuple | None = None
    none: bool | str = False
    item: Param | None = None
    length: int | None = None
    scalar: bool = False
    sep: str | None = None
    options: tuple = ()
    test: Callable[[Any], bool] | None = None
    doc: str | None = None
    normalize: Callable[[Any], Any] | None = None
    help: str = ""

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}; choose from {', '.join(_KINDS)}")

    def describe(self) -> str:
        """What is allowed, in words: ``"an integer >= 1"``, ``"None (whole clips) or a number > 0"``."""
        text = self.doc or self._describe_value()
        if self.none:
            text = ("None" + (f" ({self.none})" if isinstance(self.none, str) else "") + " or " + text)
        return text

    def _describe_value(self) -> str:
        if self.choices is not None:
            if len(self.choices) == 1:
                return repr(self.choices[0])
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "any_of":
            return " or ".join(o.describe() for o in self.options)
        if self.kind == "list":
            count = (f"{self.length} " if self.length else
                     f"at least {self.min!r} " if self.min is not None and self.min > 1 else "")
            text = "a non-empty list" if self.min == 1 and not self.length else "a list"
            text += f" of {count}{_plural(self.item.describe())}" if self.item else ""
            extras = [f"one {_singular(self.item.describe())}"] if self.scalar and self.item else []
            extras += [f"a {self.sep!r}-separated string"] if self.sep else []
            return text + (f" (or {' or '.join(extras)})" if extras else "")
        noun = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
                "path": "a file path", "dict": "a dict"}[self.kind]
        if self.kind == "dict" and self.item is not None:
            noun += f" whose values are {self.item.describe()}"
        return noun + self._describe_range()

    def _describe_range(self) -> str:
        lo, hi = self.min, self.max
        if lo is not None and hi is not None:
            return f" in {'(' if self.min_open else '['}{lo!r}, {hi!r}{')' if self.max_open else ']'}"
        if lo is not None:
            return f" {'>' if self.min_open else '>='} {lo!r}"
        if hi is not None:
            return f" {'<' if self.max_open else '<='} {hi!r}"
        return ""

    def check(self, value):
        """``(ok, value)``: whether ``value`` is allowed, and the normalised value when it is."""
        if value is None:  # a normaliser sees an allowed None too (e.g. None -> [])
            return bool(self.none), (self.normalize(None) if self.none and self.normalize else None)
        ok, value = self._check_value(value)
        if ok and self.test is not None and not self.test(value):
            return False, value
        if ok and self.normalize is not None:
            value = self.normalize(value)
        return ok, value

    def _check_value(self, v):
        if self.choices is not None and self.kind != "list":
            return (_in(v, self.choices), v)
        if self.kind == "any_of":
            for option in self.options:
                ok, out = option.check(v)
                if ok:
                    return True, out
            return False, v
        if self.kind == "int":
            return (_is_int(v) and self._in_range(v), v)
        if self.kind == "float":
            return (_is_number(v) and _finite(v) and self._in_range(v), v)
        if self.kind == "bool":
            return (isinstance(v, bool), v)
        if self.kind == "str":
            return (isinstance(v, str), v)
        if self.kind == "path":
            return (isinstance(v, (str, os.PathLike)) and str(v) != "", v)
        if self.kind == "dict":
            if not isinstance(v, dict):
                return False, v
            if self.item is None:
                return True, v
            return all(self.item.check(x)[0] for x in v.values()), v
        # list
        if isinstance(v, str) and self.sep is not None:
            v = [s.strip() for s in v.split(self.sep) if s.strip()]
        elif self.scalar and not isinstance(v, (list, tuple)):
            v = [v]
        if not isinstance(v, (list, tuple)) or (self.length is not None and len(v) != self.length):
            return False, v
        if self.min is not None and len(v) < self.min:  # for lists, min is the least length
            return False, v
        out = []
        for x in v:
            ok, x = self.item.check(x) if self.item is not None else (True, x)
            if not ok:
                return False, v
            out.append(x)
        return True, out

    def _in_range(self, v) -> bool:
        if self.min is not None and not (v > self.min if self.min_open else v >= self.min):
            return False
        if self.max is not None and not (v < self.max if self.max_open else v <= self.max):
            return False
        return True


def _in(v, choices) -> bool:
    # "1 in (True,)" is True in Python: compare types too, so that a bool is never an int choice
    return any(v == c and type(v) is type(c) for c in choices if c is not None) or (
        isinstance(v, str) and v in choices)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _finite(v) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float
        return False


def _plural(text: str) -> str:
    for a, b in (("an integer", "integers"), ("a number", "numbers"), ("a string", "strings"),
                 ("a file path", "file paths")):
        if text.startswith(a):
            return b + text[len(a):]
    return text


def _singular(text: str) -> str:
    return text.split(" ", 1)[-1] if text.startswith(("an integer", "a number", "a string")) else text


def Int(min: int | None = None, max: int | None = None, *, none: bool | str = False, **kw) -> Param:
    """An integer (never a bool) in ``[min, max]``."""
    return Param("int", min=min, max=max, none=none, **kw)


def Float(min: float | None = None, max: float | None = None, *, min_open: bool = False,
          max_open: bool = False, none: bool | str = False, **kw) -> Param:
    """A finite number (an int or a float, never a bool) in the range; ``*_open``: exclusive bound."""
    return Param("float", min=min, max=max, min_open=min_open, max_open=max_open, none=none, **kw)


def Bool(**kw) -> Param:
    """True or False (not 0 / 1)."""
    return Param("bool", **kw)


def Choice(*choices, none: bool | str = False, **kw) -> Param:
    """One of ``choices`` (a None among them means None is allowed)."""
    if None in choices:
        none = none or True
        choices = tuple(c for c in choices if c is not None)
    return Param("str", choices=tuple(choices), none=none, **kw)


def Str(*, none: bool | str = False, **kw) -> Param:
    """Any string."""
    return Param("str", none=none, **kw)


def PathParam(*, none: bool | str = False, **kw) -> Param:
    """A file path (a string or ``os.PathLike``); ``test`` may require that it exists."""
    return Param("path", none=none, **kw)


def List(item: Param | None = None, *, length: int | None = None, min_length: int | None = None,
         scalar: bool = False, sep: str | None = None, **kw) -> Param:
    """A list (or tuple) of ``item`` values, returned as a list; ``min_length``: the least length."""
    return Param("list", item=item, length=length, min=min_length, scalar=scalar, sep=sep, **kw)


def Dict(item: Param | None = None, **kw) -> Param:
    """A dict, whose values (when ``item`` is given) follow ``item``."""
    return Param("dict", item=item, **kw)


def any_of(*options: Param, none: bool | str = False, **kw) -> Param:
    """A value allowed by any of ``options`` (the first that allows it normalises it)."""
    return Param("any_of", options=tuple(options), none=none, **kw)


@dataclasses.dataclass(frozen=True)
class Rule:
    """A check across parameters, reported against ``key``: ``problem(params) -> None`` when the
    parameters are fine, else a few words saying what is wrong (e.g. ``"mixup_p + manifold_p
    must not exceed 1"``). Rules run after every single parameter passed."""

    key: str
    problem: Callable[[dict], str | None]


@dataclasses.dataclass(frozen=True)
class Schema:
    """The rules of every parameter of a method (``params``: name -> :class:`Param`) plus
    cross-parameter ``rules``."""

    params: dict[str, Param]
    rules: tuple[Rule, ...] = ()

    def validate(self, values: dict, method: str, where: str = "", kind: str = "method") -> dict:
        """A checked, normalised copy of ``values`` (every key must have a rule); one
        :class:`ConfigError` line on the first bad value, starting ``"<kind> <method>"``.
        ``where``: e.g. ``"preset smoke"``."""
        prefix = f"{kind} {method}" + (f" ({where})" if where else "")
        unknown = [k for k in values if k not in self.params]
        if unknown:
            raise ConfigError(f"{prefix}: parameter {unknown[0]!r} has no schema entry "
                              f"(known: {', '.join(sorted(self.params))})")
        out = {}
        for key, value in values.items():
            rule = self.params[key]
            ok, norm = rule.check(value)
            if not ok:
                raise ConfigError(f"{prefix}: parameter {key}={value!r}: expected {rule.describe()}")
            out[key] = norm
        for rule in self.rules:
            problem = rule.problem(out)
            if problem:
                raise ConfigError(f"{prefix}: parameter {rule.key}={out[rule.key]!r}: {problem}")
        return out

    def describe(self) -> dict[str, str]:
        """Parameter name -> what is allowed, in words."""
        return {k: p.describe() for k, p in self.params.items()}


def check_out_folder(path, what: str = "output folder") -> None:
    """One :class:`ConfigError` line when ``path`` cannot be a folder to write: it is a file, or a
    folder above it is a file (checked before anything is created; nothing is made here).
    ``what``: e.g. ``"run folder"``, the start of the message."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"{what} {path}: is a file, not a folder; give a folder path")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ConfigError(f"{what} {path}: {parent} is a file, not a folder; give a folder path")


SEED_MAX = 2**32 - 1
"""The largest seed every generator here accepts (numpy's and scikit-learn's limit)."""


def check_seed(seed, name: str = "seed") -> int:
    """``seed`` when it is an integer in ``[0, 2**32 - 1]`` (never a bool), else one
    :class:`ConfigError` line naming ``name``, the value and what is allowed."""
    if not _is_int(seed) or not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"{name}={seed!r}: expected an integer in [0, {SEED_MAX}]")
    return seed
