"""``python -m disaster_dx.cli``: the same as the ``disaster-dx`` command."""

from disaster_dx.cli import main

if __name__ == "__main__":  # importing the module (pkgutil walks, tools) runs nothing
    raise SystemExit(main())
