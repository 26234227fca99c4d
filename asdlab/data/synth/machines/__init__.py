"""The seven machine sound models of the factory, one module per machine type.

``MODELS`` maps the DCASE 2024 machine-type name to its model instance, in the order of the
DCASE 2024 development set.
"""

from asdlab.data.synth.machines.base import Anomaly, MachineModel
from asdlab.data.synth.machines.bearing import Bearing
from asdlab.data.synth.machines.fan import Fan
from asdlab.data.synth.machines.gearbox import Gearbox
from asdlab.data.synth.machines.slider import Slider
from asdlab.data.synth.machines.toycar import ToyCar
from asdlab.data.synth.machines.toytrain import ToyTrain
from asdlab.data.synth.machines.valve import Valve

MODELS: dict[str, MachineModel] = {
    m.name: m for m in (ToyCar(), ToyTrain(), Bearing(), Fan(), Gearbox(), Slider(), Valve())
}

__all__ = ["MODELS", "Anomaly", "MachineModel"]
