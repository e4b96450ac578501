"""The CPU benchmarks run at a tiny size, so they cannot rot."""

import json
import subprocess
import sys

from conftest import REPO, TEST_CONFIG


def run(module, *args):
    subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args], check=True,
                   capture_output=True, text=True, cwd=REPO)


def test_simulation_speed_benchmark(tmp_path):
    out = tmp_path / "speed.json"
    run("simulation_speed", "--config", str(TEST_CONFIG), "--steps", "3", "--threads", "1",
        "--out", str(out))
    result = json.loads(out.read_text())
    assert result["networks"] == 10 and result["steps"] == 3
    assert result["batched_seconds"] > 0 and result["speedup"] > 0
    assert result["machine"]["cpu_count"] >= 1 and "simulation_speed" in result["command"]


def test_workflow_overhead_benchmark(tmp_path):
    out = tmp_path / "overhead.json"
    run("workflow_overhead", "--configfile", str(TEST_CONFIG), "--out", str(out))
    assert json.loads(out.read_text())["dry_run_seconds"] > 0
