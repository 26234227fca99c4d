"""Import-time savings for the processes asdlab starts (command line, report workers, kernels)."""

from __future__ import annotations

import sys


def skip_iri_format_checks() -> None:
    """Make this process's jsonschema do without ``rfc3987_syntax``.

    jsonschema (imported by nbformat, which plotly.io imports to check its version) imports it
    when installed, and it builds a grammar on import: 2-3 s of CPU on an idle 2-core machine,
    7-8 s on a loaded one, in every process, only for the ``iri`` format checks that notebook
    schemas never use. Those checks then pass unchecked. Must run before nbformat is first
    imported; used by ``asdlab report``, its notebook worker and :mod:`asdlab.notebook`
    (every report kernel). Idempotent; a process that already imported it keeps it.
    """
    sys.modules.setdefault("rfc3987_syntax", None)
