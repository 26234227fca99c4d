"""Layer 9: run folders: train a method into one (config, scores, submission, metrics, built in
``OUT.partial`` and renamed when complete), load one, re-score one with another back end without
retraining, sweep a method's parameters, train one per training seed (``seeds``), expand a grid of
methods x values x seeds and run it on an executor (``grid``, ``executors``: local processes or Ray).
"""

from asdlab.runs.folder import (  # noqa: F401
    RunExistsError,
    write_json,
    data_fingerprint,
    run_method,
    write_outputs,
    load_run,
)
from asdlab.runs.preflight import Preflight, preflight  # noqa: F401
from asdlab.runs.rescore import (  # noqa: F401
    applicable_backends,
    default_backend,
    rescore,
)
from asdlab.runs.seeds import (  # noqa: F401
    check_seeds,
    seed_run_folders,
    seed_runs,
)
from asdlab.runs.executors import Executor, LocalExecutor, RayExecutor, make_executor  # noqa: F401
from asdlab.runs.grid import RunSpec, SweepResult, expand_grid, run_sweep  # noqa: F401
