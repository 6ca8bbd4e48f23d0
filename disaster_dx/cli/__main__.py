"""``python -m disaster_dx.cli``: the same as the ``disaster-dx`` command."""

from disaster_dx.cli import main

raise SystemExit(main())
