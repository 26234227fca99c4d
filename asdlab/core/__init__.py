"""Layer 0: what every layer uses and that imports nothing of asdlab: errors, atomic writes.
"""
