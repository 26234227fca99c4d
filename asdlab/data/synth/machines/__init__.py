"""The machine sound models of the factory, one module per machine type.

``MODELS`` maps the DCASE machine-type name to its model instance: the seven types of the DCASE
2024 development set in its order, then the two types only the DCASE 2020 style has (pump,
ToyConveyor). Each model's ``styles`` says which dataset styles it appears in.
"""

from asdlab.data.synth.machines.base import Anomaly, MachineModel
from asdlab.data.synth.machines.bearing import Bearing
from asdlab.data.synth.machines.fan import Fan
from asdlab.data.synth.machines.gearbox import Gearbox
from asdlab.data.synth.machines.pump import Pump
from asdlab.data.synth.machines.slider import Slider
from asdlab.data.synth.machines.toycar import ToyCar
from asdlab.data.synth.machines.toyconveyor import ToyConveyor
from asdlab.data.synth.machines.toytrain import ToyTrain
from asdlab.data.synth.machines.valve import Valve

MODELS: dict[str, MachineModel] = {
    m.name: m for m in (ToyCar(), ToyTrain(), Bearing(), Fan(), Gearbox(), Slider(), Valve(), Pump(), ToyConveyor())
}

__all__ = ["MODELS", "Anomaly", "MachineModel"]
