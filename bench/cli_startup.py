"""How long the ``disaster-dx`` command takes to start, against Python's own start-up.

Issue 15 item 8: ``disaster-dx --help`` and light commands (``db current``, ``user list``,
any ``--help``) should answer in well under a second; the heavy libraries (geopandas, pandas,
scipy, lxml, Dash, Flask, PyAV, …) are imported only by the commands that use them.

Each command runs as a whole new process, like the console script (``main()`` with the
command's arguments), ``--runs`` times after one warm-up, in turns so a busy machine slows all
of them alike. It prints each command's median and fastest wall time and its median ratio to
``python -c pass`` (the floor no command can go below): the ratio is what to compare between
versions and machines, the seconds only on a quiet machine. The database commands use a fresh
SQLite file made with ``db upgrade`` first.

    python bench/cli_startup.py [--runs 7]

Before the CLI imported lazily (commit "cli: split into a package"), ``--help`` was about
8× the baseline (0.86 s against 0.10 s on a quiet moment of the 2-core machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The console script's entry point, with the command's arguments after ``-c``'s code.
ENTRY = "import sys; from disaster_dx.cli import main; sys.exit(main())"


def commands(database_url: str) -> dict[str, list[str]]:
    """The commands timed, by label: the baseline first."""
    db = ["--database-url", database_url]
    return {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "disaster-dx --help": [sys.executable, "-c", ENTRY, "--help"],
        "disaster-dx import-buildings --help": [
            sys.executable,
            "-c",
            ENTRY,
            "import-buildings",
            "--help",
        ],
        "disaster-dx db current": [sys.executable, "-c", ENTRY, *db, "db", "current"],
        "disaster-dx user list": [sys.executable, "-c", ENTRY, *db, "user", "list"],
    }


def run_once(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run; a failing command stops the benchmark with its output."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[3:])} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def main() -> int:
    """Time every command and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="counted runs of each command")
    options = parser.parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        run_once([sys.executable, "-c", ENTRY, "--database-url", url, "db", "upgrade"], env)
        timed = commands(url)
        times: dict[str, list[float]] = {label: [] for label in timed}
        for argv in timed.values():  # warm-up: the file cache, .pyc files
            run_once(argv, env)
        for _ in range(options.runs):
            for label, argv in timed.items():
                times[label].append(run_once(argv, env))
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"{'command':<40} {'median s':>9} {'fastest s':>10} {'× baseline':>11}")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:<40} {median:>9.3f} {min(values):>10.3f} {median / base:>11.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
