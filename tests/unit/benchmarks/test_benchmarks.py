"""The CPU benchmarks run at a tiny size, so they cannot rot."""

import json
import os
import subprocess
import sys

import pytest
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


# ---------------------------------------------------------------- where_time_goes

def _log_job(stamp, rule, jobid, inputs, outputs, benchmark=None, wildcards=""):
    lines = [f"[{stamp}]", f"localrule {rule}:", f"    input: {', '.join(inputs)}",
             f"    output: {', '.join(outputs)}", f"    log: results/logs/{rule}{jobid}.log",
             f"    jobid: {jobid}"]
    if benchmark:
        lines.append(f"    benchmark: {benchmark}")
    lines.append(f"    reason: Missing output files: {outputs[0]}")
    if wildcards:
        lines.append(f"    wildcards: {wildcards}")
    lines += ["    resources: tmpdir=/tmp", "Shell command: None", "Select jobs to execute..."]
    return lines


def _finished(stamp, jobid, rule):
    return [f"[{stamp}]", f"Finished jobid: {jobid} (Rule: {rule})", "1 of 4 steps (25%) done"]


def _benchmark(path, seconds, cpu):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\t"
                    f"cpu_time\n{seconds}\t0:00:30\t100\t200\t90\t95\t0\t0\t50\t{cpu}\n")


def synthetic_build(workdir):
    """A made-up finished build: data (10 s) -> pretrain x2 (30.5 s and 20 s by their benchmark
    files) -> claims (5 s); an earlier log ran the data job once before (superseded)."""
    logs = workdir / ".snakemake" / "log"
    logs.mkdir(parents=True)
    code = "/repo/advpretrain/fileio.py"
    (logs / "2026-01-01T090000.000000.snakemake.log").write_text("\n".join(
        ["Building DAG of jobs..."]
        + _log_job("Thu Jan  1 09:00:00 2026", "sparse_coding_data", 1, [code],
                   ["results/data.npz"])
        + _finished("Thu Jan  1 09:00:40 2026", 1, "sparse_coding_data")))
    day = "Thu Jan  1"
    lines = ["Building DAG of jobs..."]
    lines += _log_job(f"{day} 10:00:00 2026", "sparse_coding_data", 5, [code],
                      ["results/data.npz"])
    lines += _finished(f"{day} 10:00:10 2026", 5, "sparse_coding_data")
    for jobid, seed in ((7, 0), (8, 1)):
        lines += _log_job(f"{day} 10:00:10 2026", "pretrain", jobid,
                          ["results/data.npz", code],
                          [f"results/m{seed}.pt", f"results/m{seed}.json"],
                          benchmark=f"results/benchmarks/pretrain/{seed}.tsv",
                          wildcards=f"seed={seed}")
    lines += _finished(f"{day} 10:00:31 2026", 8, "pretrain")
    lines += _finished(f"{day} 10:00:41 2026", 7, "pretrain")
    lines += _log_job(f"{day} 10:00:41 2026", "claims", 9,
                      ["results/m0.pt", "results/m1.pt"], ["results/claims.csv"])
    lines += _finished(f"{day} 10:00:46 2026", 9, "claims")
    lines += [f"[{day} 10:00:46 2026]", "Error in rule figure:", "    jobid: 10"]
    (logs / "2026-01-01T100000.000000.snakemake.log").write_text("\n".join(lines) + "\n")
    _benchmark(workdir / "results/benchmarks/pretrain/0.tsv", 30.5, 28.0)
    _benchmark(workdir / "results/benchmarks/pretrain/1.tsv", 20.0, 19.0)
    (workdir / "results/m0.json").write_text(json.dumps({"timing": {"wall_seconds": 28.5}}))
    startup = {"interpreter": 0.05, **{
        script: {"process_seconds": seconds, "preamble_import_seconds": 0.3,
                 "script_import_seconds": seconds - 0.5}
        for script, seconds in (("sparse_coding_data.py", 2.0), ("pretrain.py", 3.0),
                                ("claims.py", 1.5))}}
    (workdir / "startup.json").write_text(json.dumps({"startup": startup}))
    return workdir / "results"


def test_where_time_goes_on_a_made_up_build(tmp_path, capsys):
    from benchmarks import where_time_goes

    results = synthetic_build(tmp_path)
    summary = where_time_goes.main([str(results), "--startup", str(tmp_path / "startup.json"),
                                    "--json", str(tmp_path / "out.json")])
    printed = capsys.readouterr().out
    assert summary["jobs"] == 4 and summary["superseded_jobs"] == 1  # the failed job is no job
    assert summary["job_seconds"] == 65.5 and summary["wall_seconds"] == 46
    pretrain = summary["rules"]["pretrain"]
    assert (pretrain["jobs"], pretrain["job_seconds"], pretrain["cpu_seconds"]) == (2, 50.5, 47.0)
    assert pretrain["measured_overhead_per_job"] == 2.0  # 30.5 s job, 28.5 s in the stage
    assert pretrain["startup_seconds"] == 6.0 and pretrain["script"] == "pretrain.py"
    path = summary["critical_path"]
    assert [(job["rule"], job["wildcards"]) for job in path["jobs"]] == [
        ("sparse_coding_data", ""), ("pretrain", "seed=0"), ("claims", "")]
    assert path["seconds"] == 45.5
    assert summary["startup_seconds"] == 9.5  # 2 + 2 x 3 + 1.5
    assert "| pretrain | 2 | 50.5 | 77.1% | 47.0 | 3.00 | 6.0 | 2.00 |" in printed
    assert "45.5 s in 3 jobs" in printed and "9.5 s, 14.5% of the job time" in printed
    assert json.loads((tmp_path / "out.json").read_text())["critical_path"]["seconds"] == 45.5


def test_where_time_goes_refuses_a_folder_without_a_build(tmp_path):
    from benchmarks import where_time_goes

    with pytest.raises(SystemExit, match="no finished jobs"):
        where_time_goes.main([str(tmp_path / "results"), "--no-startup"])


def test_startup_probe_times_a_script_s_imports(tmp_path):
    from benchmarks import where_time_goes

    script = tmp_path / "probe.py"
    script.write_text('"""A job script."""\n\nimport json\nfrom pathlib import Path\n\n'
                      'def unused():\n    import torch\n\nprint(json, Path)\n')
    assert where_time_goes.script_imports(script) == "import json\nfrom pathlib import Path"
    measured = where_time_goes.measure_startup(script)
    assert measured["process_seconds"] > measured["preamble_import_seconds"] > 0
    assert measured["script_import_seconds"] >= 0
    assert where_time_goes.script_of("images_report_digits").name == "images_report.py"
    assert where_time_goes.script_of("all") is None


def test_module_probe_records_run_time_imports_for_where_time_goes(tmp_path, capsys):
    """benchmarks/module_probe on PYTHONPATH: each process appends what it had loaded at exit,
    an import made after start-up included; where_time_goes --modules summarises it per script."""
    from benchmarks import where_time_goes

    probe = tmp_path / "modules.jsonl"
    job = tmp_path / "tmpab12cd.pretrain.py"  # how Snakemake names a job's script
    job.write_text("def work():\n    import pandas\n\nwork()\n")
    env = {**os.environ, "ADVPRETRAIN_MODULE_PROBE": str(probe),
           "PYTHONPATH": str(REPO / "benchmarks" / "module_probe")}
    for script in (job, job):
        subprocess.run([sys.executable, str(script)], check=True, env=env)
    subprocess.run([sys.executable, "-c", "pass"], check=True,
                   env={**env, "ADVPRETRAIN_MODULE_PROBE": ""})  # unset: nothing written
    rows = [json.loads(line) for line in probe.read_text().splitlines()]
    assert [row["loaded"] for row in rows] == [["pandas"], ["pandas"]]
    results = synthetic_build(tmp_path)
    summary = where_time_goes.main([str(results), "--no-startup", "--modules", str(probe)])
    assert summary["modules"]["pretrain.py"]["processes"] == 2
    assert "| pretrain.py | 2 |" in capsys.readouterr().out
