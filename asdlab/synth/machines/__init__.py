"""The seven machine sound models of the factory, one module per machine type.

``MODELS`` maps the DCASE 2024 machine-type name to its model instance, in the order of the
DCASE 2024 development set.
"""

from asdlab.synth.machines.base import Anomaly, MachineModel
from asdlab.synth.machines.bearing import Bearing
from asdlab.synth.machines.fan import Fan
from asdlab.synth.machines.gearbox import Gearbox
from asdlab.synth.machines.slider import Slider
from asdlab.synth.machines.toycar import ToyCar
from asdlab.synth.machines.toytrain import ToyTrain
from asdlab.synth.machines.valve import Valve

MODELS: dict[str, MachineModel] = {
    m.name: m for m in (ToyCar(), ToyTrain(), Bearing(), Fan(), Gearbox(), Slider(), Valve())
}

__all__ = ["MODELS", "Anomaly", "MachineModel"]
