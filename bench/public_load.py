"""Benchmark the public snapshot under a surge: nginx vs the app vs a bare Flask app, one run.

DESIGN §6: citizens all refresh at once during a disaster. A static file server answers many
times more requests than any Python process, so the citizen path is the published static
files; the app's own ``/public/…`` route is the fallback and must stay ≥ 0.9× a bare Flask app
returning the same bytes from memory (so it does no database work or recomputation per
request). A write must be public within 1 s (p95).

Everything runs on 127.0.0.1 in a temporary folder and stops by itself:

1. a fresh SQLite database with the bundled Nankoku shelters, published into ``PUBLIC_DIR``;
2. nginx serving ``PUBLIC_DIR`` (2 workers); the app under gunicorn (2 sync workers,
   ``app:server``); a bare Flask app under the same gunicorn settings returning the bytes of
   ``shelters.geojson`` from memory;
3. wrk, ``--seconds`` each (default 10), for: nginx static snapshot, app
   ``/public/shelters.geojson``, app with ``If-None-Match`` (304), bare Flask — in
   ``--rounds`` rounds (default 2) of alternating order, keeping each target's best run, so
   that load from elsewhere on a shared machine does not favour one target;
4. 100 status reports appended the way an HQ worker does it (``Store.append`` with the app's
   publish listener), each timed until the new value is served by the app route (and by nginx).

It checks that nginx and the app serve byte-identical files, then prints req/s, p99 and the
ratios. Needs ``nginx`` and ``wrk`` on PATH (Debian: ``apt-get install nginx-light wrk``).

Run: ``python bench/public_load.py [--seconds 10] [--rounds 2] [--connections 64] [--writes 100]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from disaster_dx.bundled import ensure_initialised  # noqa: E402
from disaster_dx.config import Settings  # noqa: E402
from disaster_dx.events import NewEvent  # noqa: E402
from disaster_dx.publish import Publisher  # noqa: E402
from disaster_dx.store import Store  # noqa: E402
from layers.public_map import shelter_map_html  # noqa: E402

SHELTER = "E3920400009111"  # 稲生ふれあい館

NGINX_CONF = """
worker_processes 2;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    types {{
        text/html html;
        application/geo+json geojson;
        text/csv csv;
        text/javascript js;
        text/css css;
        image/png png;
    }}
    server {{
        listen 127.0.0.1:{port};
        root {public};
        location / {{
            add_header Cache-Control "public, max-age=10, stale-while-revalidate=30";
        }}
    }}
}}
"""

BARE_FLASK = '''
"""A bare Flask app: the bytes of shelters.geojson from memory, nothing else."""
import os

from flask import Flask, Response

BODY = open(os.environ["BENCH_FILE"], "rb").read()
app = Flask(__name__)


@app.get("/public/shelters.geojson")
def geojson():
    return Response(BODY, content_type="application/geo+json")
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, b"", dict(error.headers)


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            if fetch(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


@contextmanager
def running(args: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> Iterator[Any]:
    """Start a server in its own process group; stop exactly that group afterwards."""
    with open(log, "wb") as output:
        process = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=5)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str, *, seconds: int, connections: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """req/s and p99 latency (ms) of one bounded wrk run."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*args, url], capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rate,
        "p99_ms": float(p99.group(1)) * _UNITS[p99.group(2)] if p99 else float("nan"),
        "non_2xx_3xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
    }


def describe(result: dict[str, Any]) -> str:
    """One result line: req/s, p99 and any failed responses."""
    line = f"{result['rps']:>10,.0f} req/s   p99 {result['p99_ms']:8.2f} ms"
    if result["non_2xx_3xx"]:
        line += f"   non-2xx/3xx {result['non_2xx_3xx']:.0f}"
    if result["socket_errors"]:
        line += f"   socket errors: {result['socket_errors']}"
    return line


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def served_value(url: str) -> int | None:
    status, body, _ = fetch(url)
    if status != 200:
        return None
    for feature in json.loads(body)["features"]:
        if feature["id"] == SHELTER:
            return feature["properties"]["evacuees"]
    return None


def write_latency(
    store: Store, settings: Settings, urls: dict[str, str], writes: int
) -> dict[str, list[float]]:
    """Append ``writes`` status reports as an HQ worker does; time until each URL serves it."""
    store.add_listener(Publisher(store, settings, render_map=shelter_map_html))
    incident = store.live_incident().incident_id
    times: dict[str, list[float]] = {name: [] for name in ("append+publish", *urls)}
    for i in range(writes):
        evacuees = 1000 + i
        started = time.perf_counter()
        store.append(
            incident,
            [
                NewEvent(
                    "shelter.status_reported",
                    {"shelter_id": SHELTER, "open_state": "open", "evacuees": evacuees},
                )
            ],
            actor="bench-hq",
        )
        times["append+publish"].append(time.perf_counter() - started)
        pending = dict(urls)
        deadline = started + 10
        while pending and time.perf_counter() < deadline:
            for name, url in list(pending.items()):
                if served_value(url) == evacuees:
                    times[name].append(time.perf_counter() - started)
                    del pending[name]
        for name in pending:
            times[name].append(float("inf"))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per target")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--writes", type=int, default=100, help="writes for the latency test")
    parser.add_argument(
        "--rounds", type=int, default=2, help="wrk runs per target, alternating order (best kept)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    for tool in ("nginx", "wrk", "gunicorn"):
        if shutil.which(tool) is None:
            print(
                f"{tool} is not installed (Debian: apt-get install nginx-light wrk; "
                "gunicorn is in the dev extras)",
                file=sys.stderr,
            )
            return 2

    tmp = Path(tempfile.mkdtemp(prefix="dx-public-load-"))
    os.chmod(tmp, 0o755)  # nginx workers run as an unprivileged user
    public = tmp / "public"
    settings = Settings(
        data_dir=tmp / "var",
        database_url=f"sqlite:///{tmp / 'var' / 'bench.sqlite3'}",
        public_dir=public,
        secret_key=secrets.token_hex(32),
    )
    store = Store(settings.database_url)
    ensure_initialised(store, actor="bench")
    Publisher(store, settings, render_map=shelter_map_html).publish()
    snapshot = public / "shelters.geojson"
    print(
        f"snapshot: {snapshot.stat().st_size / 1024:.1f} KB GeoJSON, "
        f"{len(store.shelters())} shelters; cores: {os.cpu_count()}; "
        f"wrk -t2 -c{args.connections} -d{args.seconds}s",
        flush=True,
    )

    env = {
        **os.environ,
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.database_url,
        "PUBLIC_DIR": str(public),
        "SECRET_KEY": settings.secret_key,
        "BENCH_FILE": str(snapshot),
        "PYTHONPATH": str(ROOT),
    }
    gunicorn = [
        "gunicorn",
        "--workers",
        "2",
        "--worker-class",
        "sync",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
    ]
    ports = {name: free_port() for name in ("nginx", "app", "bare")}
    for folder in ("nginx-body", "nginx-proxy", "nginx-fastcgi", "nginx-uwsgi", "nginx-scgi"):
        (tmp / folder).mkdir()
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(tmp=tmp, port=ports["nginx"], public=public), encoding="utf-8"
    )
    (tmp / "bare.py").write_text(BARE_FLASK, encoding="utf-8")

    results: dict[str, dict[str, Any]] = {}
    try:
        with (
            running(
                ["nginx", "-c", str(conf), "-p", str(tmp)], env=env, cwd=tmp, log=tmp / "nginx.log"
            ) as nginx,
            running(
                [*gunicorn, "-b", f"127.0.0.1:{ports['app']}", "app:server"],
                env=env,
                cwd=ROOT,
                log=tmp / "app.log",
            ) as app,
            running(
                [*gunicorn, "-b", f"127.0.0.1:{ports['bare']}", "bare:app"],
                env=env,
                cwd=tmp,
                log=tmp / "bare.log",
            ) as bare,
        ):
            urls = {
                "nginx static snapshot": f"http://127.0.0.1:{ports['nginx']}/shelters.geojson",
                "app /public/shelters.geojson": f"http://127.0.0.1:{ports['app']}/public/shelters.geojson",
                "bare Flask (bytes in memory)": f"http://127.0.0.1:{ports['bare']}/public/shelters.geojson",
            }
            wait_until_up(urls["nginx static snapshot"], nginx)
            wait_until_up(urls["app /public/shelters.geojson"], app)
            wait_until_up(urls["bare Flask (bytes in memory)"], bare)

            identical = []
            for name in (
                "shelters.geojson",
                "shelters.csv",
                "index.html",
                "map.html",
                "site/public.js",
            ):
                from_nginx = fetch(f"http://127.0.0.1:{ports['nginx']}/{name}")[1]
                from_app = fetch(f"http://127.0.0.1:{ports['app']}/public/{name}")[1]
                identical.append(from_nginx == from_app == (public / name).read_bytes())
            etag = fetch(urls["app /public/shelters.geojson"])[2]["ETag"]
            assert fetch(urls["app /public/shelters.geojson"], {"If-None-Match": etag})[0] == 304

            runs = [
                ("nginx static snapshot", urls["nginx static snapshot"], None),
                ("app /public/shelters.geojson", urls["app /public/shelters.geojson"], None),
                (
                    "app If-None-Match (304)",
                    urls["app /public/shelters.geojson"],
                    {"If-None-Match": etag},
                ),
                ("bare Flask (bytes in memory)", urls["bare Flask (bytes in memory)"], None),
            ]
            for url in {u for _, u, _ in runs}:
                wrk(url, seconds=2, connections=args.connections)  # warm up every server
            # Rounds in alternating order, best run per target: on a shared machine, load from
            # elsewhere then hurts no target more than another.
            for round_number in range(args.rounds):
                ordered = runs if round_number % 2 == 0 else runs[::-1]
                for name, url, headers in ordered:
                    run = wrk(
                        url, seconds=args.seconds, connections=args.connections, headers=headers
                    )
                    print(f"  round {round_number + 1}  {name:32s} {describe(run)}", flush=True)
                    if name not in results or run["rps"] > results[name]["rps"]:
                        results[name] = run
            print("best of each:")
            for name, _, _ in runs:
                print(f"  {name:32s} {describe(results[name])}", flush=True)

            latency = write_latency(
                store,
                settings,
                {
                    "app route": urls["app /public/shelters.geojson"],
                    "nginx": urls["nginx static snapshot"],
                },
                args.writes,
            )
    finally:
        store.dispose()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    app_rps = results["app /public/shelters.geojson"]["rps"]
    bare_rps = results["bare Flask (bytes in memory)"]["rps"]
    nginx_rps = results["nginx static snapshot"]["rps"]
    print()
    print(f"nginx and the app serve byte-identical files: {'yes' if all(identical) else 'NO'}")
    print(f"app / bare Flask : {app_rps / bare_rps:5.2f}×   (budget ≥ 0.9×)")
    print(f"304 / bare Flask : {results['app If-None-Match (304)']['rps'] / bare_rps:5.2f}×")
    ratio = nginx_rps / app_rps
    print(f"app / nginx      : {app_rps / nginx_rps:5.2f}×   (nginx serves {ratio:.0f}× more)")
    for name, values in latency.items():
        ms = [v * 1000 for v in values]
        budget = "   (budget p95 < 1000 ms)" if name == "app route" else ""
        p50, p95 = percentile(ms, 50), percentile(ms, 95)
        print(
            f"write → {name:15s}: p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   "
            f"max {max(ms):7.1f} ms   over {len(ms)} writes{budget}"
        )
    ok = all(identical) and app_rps >= 0.9 * bare_rps and percentile(latency["app route"], 95) < 1.0
    print("within budget" if ok else "OUT OF BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
