"""``python -m disaster_dx.cli``: the same as the ``disaster-dx`` command."""

from disaster_dx.cli import main

if __name__ == "__main__":  # importing it (the architecture test imports every module) runs nothing
    raise SystemExit(main())
