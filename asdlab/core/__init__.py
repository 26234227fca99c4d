"""Layer 0: what every layer uses and that imports nothing else of asdlab: errors, atomic writes,
the declarative parameter schemas of methods and back ends.
"""
