"""The CPU benchmarks run at a tiny size, so they cannot rot."""

import json
import subprocess
import sys

import yaml
from conftest import REPO, TEST_CONFIG

from advpretrain.workflow import params as settings


def run(module, *args):
    subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args], check=True,
                   capture_output=True, text=True, cwd=REPO)


def test_simulation_speed_benchmark(tmp_path):
    out = tmp_path / "speed.json"
    run("simulation_speed", "--config", str(TEST_CONFIG), "--steps", "3", "--threads", "1",
        "--out", str(out))
    result = json.loads(out.read_text())
    config = yaml.safe_load(TEST_CONFIG.read_text())
    variants = settings.pretrain(config, "supervised", "gate")["variants"]
    assert result["networks"] == len(variants) * config["simulation"]["seeds"]
    assert result["steps"] == 3
    assert result["batched_seconds"] > 0 and result["speedup"] > 0
    assert result["machine"]["cpu_count"] >= 1 and "simulation_speed" in result["command"]


def test_workflow_overhead_benchmark(tmp_path):
    out = tmp_path / "overhead.json"
    run("workflow_overhead", "--configfile", str(TEST_CONFIG), "--out", str(out))
    assert json.loads(out.read_text())["dry_run_seconds"] > 0
