"""Layer 7: the file formats of a run folder's arrays (embeddings with their clip metadata, class
centers), read and written only through here.

Its own layer, below the recipes, because a recipe that nests another (guided clustering scores
with sub-cluster AdaCos in a sub-folder) writes these files too, and everything above (run
folders, rescoring, analysis) reads them. Imports only ``core``.
"""

from asdlab.artifacts.embeddings import (  # noqa: F401
    EMBEDDING_COLUMNS,
    load_embeddings,
    save_embeddings,
)
