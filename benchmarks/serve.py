"""`swamp serve` under load, run outside the test suite:

    python benchmarks/serve.py [--starts 1000] [--clients 16] [--workers 4]

Makes a repository in a temporary folder with a side-effect-free workflow
(two swamp/echo steps), starts `swamp serve` on 127.0.0.1 at a free port,
sends N starts from C concurrent clients, and prints the throughput and the
p50/p99 latency of accepting them (each answer comes after the run is
journaled and fsynced), then the time until every accepted run succeeded.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

TOKEN = "benchmark-token-0123456789"
SWAMP_YAML = "version: 1\nserve:\n  allowStart: [noop]\n"
MODEL = """\
name: noop
type: swamp/echo
methods:
  echo:
    arguments:
      values: {n: "${{ inputs.n }}"}
inputs:
  properties:
    n: {type: integer}
"""
WORKFLOW = """\
name: noop
inputs:
  properties:
    n: {type: integer}
jobs:
  go:
    steps:
      - {name: one, model: noop, method: echo, inputs: {n: "${{ inputs.n }}"}}
      - {name: two, model: noop, method: echo, inputs: {n: "${{ inputs.n }}"}}
"""


def make_repo(root: Path) -> None:
    for folder in ("models", "workflows", "queue"):
        (root / folder).mkdir(parents=True)
    (root / "swamp.yaml").write_text(SWAMP_YAML)
    (root / "models" / "noop.yaml").write_text(MODEL)
    (root / "workflows" / "noop.yaml").write_text(WORKFLOW)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swamp-bench-serve-") as tmp:
        root = Path(tmp) / "repo"
        make_repo(root)
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "swamp", "--repo", str(root), "serve"),
                *("--bind", "127.0.0.1:0", "--workers", str(args.workers)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "SWAMP_SERVE_TOKENS": f"bench:{TOKEN}"},
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().split("listening on ")[1].split()[0]
            # Keep reading its log (the access log), or the pipe fills and the server waits.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            run(url, args.starts, args.clients)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)


def run(url: str, starts: int, clients: int) -> None:
    latencies: list[float] = []
    ids: list[str] = []
    lock = threading.Lock()
    counter = iter(range(starts))

    def client() -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, timeout=60, headers=headers) as c:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                t0 = time.perf_counter()
                r = c.post("/api/v1/workflows/noop/runs", json={"inputs": {"n": n}})
                took = time.perf_counter() - t0
                assert r.status_code == 201, r.text
                with lock:
                    latencies.append(took)
                    ids.append(r.json()["run"])

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted_in = time.perf_counter() - start
    print(f"accepted {len(ids)} starts from {clients} clients in {accepted_in:.2f}s")
    print(f"  throughput {len(ids) / accepted_in:.0f} starts/s")
    print(
        f"  latency p50 {percentile(latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms, "
        f"mean {statistics.mean(latencies) * 1000:.1f} ms"
    )
    with httpx.Client(base_url=url, timeout=120) as c:
        while True:
            rows = c.get("/api/v1/runs").json()["runs"]
            done = sum(r["state"] == "succeeded" for r in rows)
            failed = [r["run"] for r in rows if r["state"] in ("failed", "stopped")]
            if failed:
                raise SystemExit(f"runs failed: {failed[:5]}")
            if done >= len(ids):
                break
            time.sleep(0.5)
    total = time.perf_counter() - start
    print(f"all {len(ids)} runs succeeded {total:.2f}s after the first start")


if __name__ == "__main__":
    main()
