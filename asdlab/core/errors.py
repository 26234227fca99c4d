"""Exceptions that carry a message meant for a person: what is wrong and with which file.

The command line prints ``str(err)`` of any :class:`AsdlabError` and exits with status 2.
"""

import errno


class AsdlabError(Exception):
    """Base of every error asdlab raises on bad input."""


class DataError(AsdlabError, ValueError):
    """A dataset layout problem: unknown file name, empty machine folder, missing split."""


class AudioError(AsdlabError, ValueError):
    """A file that cannot be read as audio: corrupt, truncated, empty, not audio."""


class MetricsError(AsdlabError, ValueError):
    """Metrics cannot be computed: e.g. a section without normals or without anomalies."""


class SubmissionError(AsdlabError, ValueError):
    """A submission folder or file is missing, malformed, or does not match the ground truth."""


class ConfigError(AsdlabError, ValueError):
    """An unknown method, preset or parameter, or a parameter value of the wrong kind."""


_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is exceeded: free some space or write elsewhere",
    errno.EACCES: "permission denied: check the owner and mode of the file or its folder",
    errno.EPERM: "operation not permitted: check the owner and mode of the file or its folder",
    errno.EROFS: "the file system is read-only: write elsewhere",
}


def os_error_message(err: OSError) -> str:
    """One line for a person from an :class:`OSError`: the path(s) it names, the system's words and
    errno, and what to do for the common ones (disk full, permission, read-only), e.g.
    ``"/runs/x.partial/scores.csv: No space left on device (errno 28: the disk is full: free some
    space or write elsewhere)"``."""
    paths = [str(p) for p in (err.filename, err.filename2) if p is not None]
    where = " -> ".join(paths)
    what = err.strerror or str(err) or type(err).__name__
    if err.errno is not None:
        hint = _OS_HINTS.get(err.errno)
        what += f" (errno {err.errno}" + (f": {hint})" if hint else ")")
    return f"{where}: {what}" if where else what
