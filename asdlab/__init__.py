"""asdlab: first-shot anomalous sound detection (DCASE Task 2) lab.

Packages, bottom to top (a module imports only from its own layer and those below; asserted by
``tests/test_layers.py``): ``core`` -> ``data`` -> ``features`` -> ``metrics`` -> ``nn`` ->
``train`` -> ``backends`` -> ``artifacts`` -> ``methods`` -> ``runs`` -> ``analysis`` -> ``viz`` ->
``report`` -> ``notebook`` / ``cli``. Each package's docstring says why it sits where it does.
"""

__version__ = "0.2.0"
