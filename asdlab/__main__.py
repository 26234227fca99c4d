"""``python -m asdlab`` is the ``asdlab`` command."""

from asdlab.cli import main

raise SystemExit(main())
