"""What every machine sound model declares and provides.

A model is a stateless object describing one machine type of the factory:

- ``attributes[domain][key]``: the attribute values used in each domain (strings, as they
  appear in file names). The grid of all combinations is cycled through in each cell, so
  the domain shift is the difference between the source and target grids;
- ``hidden``: whether file names say ``noAttribute`` (gearbox, slider, ToyTrain in 2024);
- ``anomaly_kinds``: the fault kinds this machine can suffer;
- ``environment[domain]``: the name of the factory background (see :mod:`asdlab.data.synth.noise`)
  and ``snr_db[domain]`` the (low, high) range of machine-to-background level in dB;
- ``sound(...)``: the machine's own sound, before background noise;
- ``styles``: the dataset styles the type appears in (``"dcase2024"``, ``"dcase2020"``);
- ``unit(rng)`` (types of the ``dcase2020`` style): the operating point of one physically
  distinct unit (a DCASE 2020 machine ID), as the ``attrs`` that :meth:`~MachineModel.sound`
  receives for every clip of that unit.

``sound`` must draw every random number of the normal machine from ``rng`` in an order that
does not depend on the anomaly, and everything about the fault from ``fault_rng``: a clip and
its faulty twin (same seed) then share the same normal sound exactly.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import numpy as np

from asdlab.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Anomaly:
    """A fault: its ``kind`` (one of the model's ``anomaly_kinds``) and ``severity`` in (0, 1],
    1 being the strongest fault the model renders."""

    kind: str
    severity: float


class MachineModel(abc.ABC):
    """Base class of the machine sound models (see the module docstring)."""

    name: ClassVar[str]
    hidden: ClassVar[bool] = False
    attributes: ClassVar[dict[str, dict[str, tuple[str, ...]]]]
    anomaly_kinds: ClassVar[tuple[str, ...]]
    environment: ClassVar[dict[str, str]]
    snr_db: ClassVar[dict[str, tuple[float, float]]]
    styles: ClassVar[tuple[str, ...]] = ("dcase2024",)

    @abc.abstractmethod
    def sound(self, attrs: dict[str, str], anomaly: Anomaly | None, rng: np.random.Generator,
              fault_rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
        """The machine's sound: ``n`` float64 samples at ``sr`` Hz, about unit RMS for a normal
        clip at its reference operating point (attributes may make it louder or quieter)."""

    def unit(self, rng: np.random.Generator) -> dict[str, str]:
        """The attributes of one physically distinct unit of this type (a DCASE 2020 machine
        ID), drawn from ``rng``: string values that :meth:`sound` accepts as ``attrs``. Only
        types whose ``styles`` include ``"dcase2020"`` implement it."""
        raise NotImplementedError(f"{self.name}: no DCASE 2020 units (styles {', '.join(self.styles)})")

    def unit_numbers(self, attrs: dict[str, str], keys) -> dict[str, float]:
        """The values of ``keys`` in ``attrs`` (a unit's attributes, :meth:`unit`) as numbers; a
        :class:`ConfigError` names a missing or malformed one."""
        try:
            return {key: float(attrs[key]) for key in keys}
        except KeyError as err:
            raise ConfigError(f"{self.name}: unit attribute {err.args[0]!r} missing "
                              f"(attrs come from {type(self).__name__}.unit())") from None
        except ValueError:
            raise ConfigError(f"{self.name}: unit attributes must be numbers, got {attrs}") from None

    @staticmethod
    def severity(anomaly: Anomaly | None, kind: str) -> float:
        """``anomaly.severity`` if the anomaly is of ``kind``, else 0: lets a model write one
        code path in which each fault's strength is 0 for a normal clip."""
        return anomaly.severity if anomaly is not None and anomaly.kind == kind else 0.0
