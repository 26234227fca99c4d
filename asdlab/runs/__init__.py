"""Layer 9: run folders (the only writer of a run's files), rescoring, sweeps.
"""

from asdlab.runs.folder import (  # noqa: F401
    RunExistsError,
    write_json,
    data_fingerprint,
    run_method,
    write_outputs,
    load_run,
)
from asdlab.runs.rescore import (  # noqa: F401
    applicable_backends,
    default_backend,
    rescore,
)
