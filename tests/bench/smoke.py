#!/usr/bin/env python3
"""Smoke test of `pyro-bench --quick`: it runs every workload and writes
well-formed outputs (JSON rows for each workload, a markdown table, PNG
charts). Timings are not judged here; docs/performance.md reports them."""

import json
import pathlib
import subprocess
import sys
import tempfile

bench = sys.argv[1]
with tempfile.TemporaryDirectory() as out:
    run = subprocess.run([bench, "--quick", "--out", out],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = json.loads(pathlib.Path(out, "results.json").read_text())
    workloads = {row["workload"] for row in rows}
    expected = {"exec", "create", "diff", "fleet", "idle", "mcp", "vm-boot"}
    assert workloads == expected, workloads
    for row in rows:
        assert row.get("errors", 0) == 0, row
        if "p50_us" in row:
            assert row["p50_us"] > 0 and row["p99_us"] >= row["p50_us"], row
            assert "reference" in row and row["reference_p50_us"] > 0, row
    assert any(r["workload"] == "idle" and r.get("value_kib", 0) > 0 for r in rows)
    assert any(r["workload"] == "vm-boot" and r.get("p50_us", 0) > 0 for r in rows)
    table = pathlib.Path(out, "results.md").read_text()
    assert table.startswith("| workload | measurement |"), table[:200]
    assert table.count("\n|") >= len(rows) + 1
    charts = sorted(pathlib.Path(out).glob("*.png"))
    assert len(charts) >= 2, charts
    for chart in charts:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", chart
print("pyro-bench --quick: outputs well-formed")
