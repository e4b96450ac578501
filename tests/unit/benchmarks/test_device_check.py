"""The GPU check (benchmarks/device_check.sh): its --tiny mode on the CPU through the one command,
as a GPU machine would run it (no Snakemake, no jsonschema), and its guards: a section that fails
or overruns its budget is recorded and the next one runs."""

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import REPO

from advpretrain.images.cost import UTILISATION
from advpretrain.images.evaluate import STANDARD
from benchmarks import device_check

ABSENT_ON_THE_GPU_MACHINE = ("snakemake", "jsonschema")


@pytest.mark.workflow
def test_tiny_check_runs_every_section_through_its_command(tmp_path):
    # Shadow what the GPU machine lacks: importing it fails, as it would there.
    blocked = tmp_path / "blocked"
    for name in ABSENT_ON_THE_GPU_MACHINE:
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path),
           "PYTHONPATH": str(blocked)}
    start = time.perf_counter()
    result = subprocess.run(["bash", str(REPO / "benchmarks" / "device_check.sh"), "--tiny"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "device_check.json").read_text())
    assert {name: section["status"] for name, section in report["sections"].items()} == \
        dict.fromkeys(device_check.SECTIONS, "ok"), report["sections"]
    assert report["tiny"] and report["seconds"] < seconds

    throughput = report["throughput"]
    assert throughput["errors"] == []
    assert {(row["pipeline"], row["mode"]) for row in throughput["results"]} == {
        (p, m) for p in ("ours", "reference") for m in ("clean", "pgd2")} | {
        ("ours", "simclr"), ("ours", "acl1")}
    for row in throughput["results"]:
        assert min(row["images_per_s"], row["step_seconds"], row["epoch_seconds_49000"],
                   row["mfu"]) > 0
    assert set(throughput["speedup_ours_over_reference"]) == {"clean", "pgd2"}

    mfu = report["mfu"]
    assert mfu["assumed_by_cost_model"] == UTILISATION and "CPU" in mfu["peak_source"]
    assert len(mfu["measured"]) == 6 and all(v > 0 for v in mfu["measured"].values())

    attack = report["autoattack"]
    assert attack["available"] and attack["seconds"] > 0 and attack["images"] == 4
    assert list(attack["robust_share_after"]) == list(STANDARD)

    e2e = report["end_to_end"]
    assert e2e["errors"] == []
    jobs = [(job["rule"], job.get("variant")) for job in e2e["jobs"]]
    variants = ["supervised_clean", "supervised_adversarial", "contrastive_clean",
                "contrastive_adversarial"]
    assert jobs == [("images_data", None)] + [
        (rule, v) for v in variants for rule in ("images_pretrain", "images_linear")] + [
        ("images_evaluate", "contrastive_adversarial")]
    assert all(job["seconds"] > 0 for job in e2e["jobs"])
    assert all(job["cost_model_flops"] > 0 and job["stage_seconds"] > 0
               for job in e2e["jobs"] if job["rule"] == "images_pretrain")
    rows = e2e["evaluation"]["contrastive_adversarial"]
    assert [row["downstream_task"] for row in rows] == ["classes", "vehicles"]
    assert all(0 <= row["clean_accuracy"] <= 1 for row in rows)
    print(f"device_check.sh --tiny: {seconds:.1f} s")


def test_failing_and_overrunning_sections_are_recorded(tmp_path, monkeypatch):
    def fails(args, report):
        raise ValueError("broken on purpose")

    def overruns(args, report):
        report["overruns"] = {"partial": True}
        time.sleep(5)

    monkeypatch.setattr(device_check, "SECTIONS", {
        "fails": fails, "overruns": overruns, "autoattack": device_check.autoattack_time})
    monkeypatch.setattr(device_check, "BUDGETS", {"fails": 5, "overruns": 0.3, "autoattack": 5})
    # Without pyautoattack the AutoAttack section says so instead of failing.
    monkeypatch.setattr(device_check, "autoattack", None)
    monkeypatch.setattr(device_check, "AUTOATTACK_MISSING", "No module named 'pyautoattack'")
    out = tmp_path / "check.json"
    device_check.main(["--tiny", "--out", str(out)])
    report = json.loads(out.read_text())
    sections = report["sections"]
    assert sections["fails"]["status"] == "error"
    assert sections["fails"]["error"] == "ValueError: broken on purpose"
    assert sections["overruns"]["status"] == "error" and sections["overruns"]["seconds"] < 3
    assert "time budget" in sections["overruns"]["error"] and report["overruns"]["partial"]
    assert sections["autoattack"]["status"] == "ok"
    assert report["autoattack"] == {"available": False,
                                    "reason": "No module named 'pyautoattack'"}


def test_a_python_without_the_check_s_imports_is_refused_in_one_line(tmp_path):
    blocked = tmp_path / "blocked" / "pandas"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('no pandas here')\n")
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path),
           "PYTHONPATH": str(blocked.parent)}
    result = subprocess.run(["bash", str(REPO / "benchmarks" / "device_check.sh"), "--tiny"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "PYTHON=.venv/bin/python" in result.stderr
    assert not (tmp_path / "device_check.json").exists()
