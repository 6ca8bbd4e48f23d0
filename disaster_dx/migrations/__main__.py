"""``python -m disaster_dx.migrations revision ID "message"``: write the next revision file.

For developers adding tables or columns (see docs/architecture.md, "Schema and migrations").
Operators use ``disaster-dx db upgrade|current|history`` instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from disaster_dx.migrations import head, write_revision


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and write the revision; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m disaster_dx.migrations")
    actions = parser.add_subparsers(dest="action", required=True)
    revision = actions.add_parser(
        "revision", help="autogenerate the next revision from the models (review it!)"
    )
    revision.add_argument("rev_id", help="e.g. 0003_camera_frames (also the file name)")
    revision.add_argument("message", help="one line saying what the revision does")
    args = parser.parse_args(argv)
    path = write_revision(args.message, rev_id=args.rev_id)
    print(f"wrote {path} (after {head()}); review it, then run tests/test_migrations.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
