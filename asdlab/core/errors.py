"""Exceptions that carry a message meant for a person: what is wrong and with which file.

The command line prints ``str(err)`` of any :class:`AsdlabError` and exits with status 2.
"""


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
