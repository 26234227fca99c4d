"""asdlab: first-shot anomalous sound detection (DCASE Task 2) lab.

Layers, data flowing down: ``data`` (layout, audio, cache, factory) -> ``features`` ->
``nn`` -> ``train`` -> ``backends`` -> ``methods`` -> ``metrics`` / ``submission`` -> ``cli``.
"""

__version__ = "0.1.0"
