"""The benchmark harness (bench/, ``make bench``) still works: a quick run, correctness only.

Performance is measured by ``make bench``, never asserted here: this test checks that
every peer processed every task exactly once, that keyset and OFFSET pages agree and that
the result files are written. No timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_run_is_correct_and_writes_results(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]

    data_files = list(tmp_path.glob("*-quick.json"))
    assert len(data_files) == 1
    assert (tmp_path / "latest-quick.md").read_text().startswith("# Benchmark results")
    results = json.loads(data_files[0].read_text())

    peers = results["engine"]["peers"]
    assert set(peers) == {"taskplane", "pgqueuer", "procrastinate"}
    for name, peer in peers.items():
        assert peer["exactly_once"], name
        for check in peer["checks"]:
            assert check["completed"] == check["unique_completed"] == check["n"], name
            assert check["db"] == {"finished": check["n"], "left": 0}, name
    assert set(results["engine"]["ratios"]) == {"taskplane/pgqueuer", "taskplane/procrastinate"}

    http = results["http"]
    assert http["exactly_once"]
    for check in http["checks"]:
        assert check["completed_once"] == check["n"]
        assert check["completed_events"] == check["n"]
        assert check["not_completed"] == 0

    pagination = results["pagination"]
    assert pagination["same_rows"]
    assert set(pagination["depths"]) == {"1", "10", "100"}

    machine = results["machine"]
    for fact in ("cpu_count", "postgresql", "python", "date"):
        assert machine[fact], fact
