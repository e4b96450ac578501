"""The whole DAG on the tiny config: outputs, no-op rerun, byte-identical rebuild."""

import copy
import hashlib
import json

import pandas as pd
import pytest
import yaml

from conftest import build_whole_dag, run_snakemake

pytestmark = pytest.mark.workflow


# Wall-clock measurements cannot repeat. They are confined to the CIFAR stage JSONs' "timing"
# entries and the CIFAR table's time columns: those are compared without them, the table's .md
# and .tex renderings (made from the same rows by the same code) are left out; every other file
# under results/ and paper_figures/ must match byte for byte.
TIME_COLUMNS = ("gpu_minutes", "wall_minutes", "device")
TABLE_RENDERINGS = ("cifar10_table.md", "cifar10_table.tex")


def comparable_bytes(path):
    if path.name in TABLE_RENDERINGS:
        return None
    if path.suffix == ".json" and "cifar" in path.parts:
        payload = json.loads(path.read_text())
        payload.pop("timing", None)
        return json.dumps(payload, sort_keys=True).encode()
    if path.name == "cifar10_table.csv":
        return pd.read_csv(path).drop(columns=list(TIME_COLUMNS), errors="ignore").to_csv().encode()
    return path.read_bytes()


def digests(root):
    """sha256 of every file under results/ and paper_figures/ (logs and resume state aside)."""
    files = [p for folder in ("results", "paper_figures") for p in (root / folder).rglob("*")
             if p.is_file() and "logs" not in p.parts and "resume" not in p.parts]
    return {str(p.relative_to(root)): hashlib.sha256(data).hexdigest()
            for p in files if (data := comparable_bytes(p)) is not None}


def test_dag_builds_every_figure(workflow_run):
    figures = {p.name for p in (workflow_run / "paper_figures").iterdir()}
    for name in ("purity_distribution", "coefficient_heatmaps", "robustness_curves",
                 "eps_sweep"):
        assert {f"{name}.pdf", f"{name}.png"} <= figures


def test_measures_are_tidy_and_complete(workflow_run):
    summary = pd.read_csv(workflow_run / "results/simulation/supervised/gate/summary.csv")
    assert set(summary["measure"]) == {"purity", "participation_ratio", "feature_count",
                                       "dead_share"}
    assert summary.groupby(["variant", "measure"]).size().eq(2).all()  # 2 seeds in test.yaml
    robustness = pd.read_csv(workflow_run / "results/simulation/supervised/gate/robustness.csv")
    assert {"attack", "norm", "eps", "accuracy", "loss", "variant", "seed"} <= set(robustness)
    assert robustness["accuracy"].between(0, 1).all()


def test_every_output_records_its_seed(workflow_run):
    import json
    meta = json.loads((workflow_run / "results/data/seed1.json").read_text())
    assert meta["seeds"]["seed_index"] == 1 and meta["seeds"]["seed"] > 0
    assert meta["outputs"]


def test_rerun_is_a_no_op(workflow_run):
    result = run_snakemake(workflow_run, "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_rebuild_from_scratch_is_byte_identical(workflow_run, tmp_path):
    build_whole_dag(tmp_path)
    first, second = digests(workflow_run), digests(tmp_path)
    assert first.keys() == second.keys()
    differing = sorted(name for name in first if first[name] != second[name])
    assert not differing, f"files differ between two builds: {differing}"


def planned_jobs(output):
    """Rule names from the "Job stats" table of a dry run."""
    lines = iter(output.splitlines())
    for line in lines:
        if line.startswith("job "):
            next(lines)  # the dashes under the header
            break
    jobs = set()
    for line in lines:
        if line.startswith("total") or not line.strip():
            break
        jobs.add(line.split()[0])
    return jobs


def test_changing_a_plot_reruns_only_figures(workflow_run):
    result = run_snakemake(workflow_run, "--dry-run", "--forcerun", "figure")
    assert planned_jobs(result.stdout) <= {"figure", "export_figures", "all"}
    assert "figure" in planned_jobs(result.stdout)


def test_config_changes_rerun_exactly_what_depends_on_them(workflow_run, test_config, tmp_path):
    def planned_after(change):
        config = copy.deepcopy(test_config)
        change(config["simulation"])
        path = tmp_path / "changed.yaml"
        path.write_text(yaml.safe_dump(config))
        return planned_jobs(run_snakemake(workflow_run, "--dry-run", configfile=path).stdout)

    evaluation = planned_after(lambda sim: sim["evaluation"].update(pgd_steps=4))
    assert "evaluate_pretrained" in evaluation and "pretrain" not in evaluation
    training = planned_after(lambda sim: sim["training"].update(steps=151))
    assert "pretrain" in training and "sparse_coding_data" not in training
    data = planned_after(lambda sim: sim["data"].update(sigma=0.06))
    assert {"sparse_coding_data", "pretrain"} <= data
