"""The whole DAG on the tiny config: outputs, settings per stage, reruns, determinism."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import (
    TEST_CONFIG,
    copy_repository,
    planned_jobs,
    planned_rules,
    run_snakemake,
)
from make_commands import make_snakemake_commands

from advpretrain.workflow.code_inputs import code_modules
from advpretrain.workflow.figures import PAPER, exported
from advpretrain.workflow.run import RECORD_ENV

pytestmark = pytest.mark.workflow

# One output of one job of every rule that runs a script: rebuilt alone in a copy of the build,
# it must come out byte for byte as in the build.
ONE_JOB_PER_RULE = {
    "sparse_coding_data": "results/data/seed1.npz",
    "pretrain": "results/simulation/contrastive_attack_similar/gate/pretrained.pt",
    "evaluate_pretrained": "results/simulation/contrastive_attack_dissimilar/gate/nodes.csv",
    "evaluate_pair_loss": "results/simulation/contrastive/gate/pair_loss.csv",
    "pair_attack_study": "results/simulation/contrastive_pair_attack/gate/pair_attack.csv",
    "downstream": "results/simulation/contrastive/gate/downstream.csv",
    "downstream_baselines": "results/simulation/baselines/gate/downstream.csv",
    "downstream_blend": "results/simulation/supervised/gate/downstream_blend.csv",
    "node_movement": "results/simulation/contrastive/gate/movement.csv",
    "exact_verification": "results/simulation/supervised/relu/exact_summary.csv",
    "attack_convergence": "results/simulation/supervised/gate/convergence.csv",
    "exact_table": "paper_figures/exact_verification.csv",
    "threshold_study": "results/simulation/threshold_study/e0.1.csv",
    "figure": "results/figures/eps_sweep.png",
    "claims": "results/claims.csv",
    "images_data": "results/images/cifar10/data/split.npz",
    "images_pretrain": "results/images/digits/supervised_adversarial/seed1/encoder.pt",
    "images_linear": "results/images/digits/contrastive_adversarial/seed0/linear_heads.pt",
    "images_evaluate": "results/images/cifar10/contrastive_clean/seed0/evaluation.csv",
    "images_report_cifar10": "paper_figures/cifar10_table.csv",
    "images_report_digits": "results/images/digits/per_seed.csv",
}
REBUILD_LAYERS = [
    ["sparse_coding_data", "images_data"],
    ["pretrain", "evaluate_pretrained", "evaluate_pair_loss", "downstream", "downstream_baselines",
     "downstream_blend", "node_movement", "threshold_study", "exact_verification",
     "attack_convergence", "images_pretrain", "images_linear", "images_evaluate"],
    # claims' inputs from this layer are rebuilt in it, before it; the rest exist already.
    ["pair_attack_study", "figure", "exact_table", "images_report_cifar10",
     "images_report_digits", "claims"],
]
# Wall-clock measurements cannot repeat: the image stages' "timing" entries and the per-seed
# tables' time columns are compared without them, and so are the hashes of files holding them
# where a provenance JSON lists them.
TIME_COLUMNS = ["gpu_minutes", "wall_minutes", "device"]
# The exact verification's JSON holds its solve times too.
TIMED = re.compile(r"results/images/\w+/per_seed\.csv$|results/images/.+\.json$"
                   r"|results/simulation/supervised/\w+/exact\.json$")


def test_dag_builds_every_figure_and_table(workflow_run, test_config):
    figures = {p.name for p in (workflow_run / "paper_figures").iterdir()}
    registered = exported(PAPER, test_config)
    assert {"cifar10_results", "digits_results", "eps_sweep"} <= set(registered)
    for name in registered:
        assert {f"{name}.pdf", f"{name}.png"} <= figures, name
    assert {"claims.md", "cifar10_table.csv", "digits_table.csv", "multiverse.md",
            "budget_map.png", "multiverse.png"} <= figures
    claims = (workflow_run / "paper_figures" / "claims.md").read_text()
    assert "known answer" in claims and "## Admissible budgets" in claims
    assert claims.index("## The answer, claim by claim") < claims.index("## The table")
    page = (workflow_run / "results/claims.html").read_text()
    assert "<h2>The answer, claim by claim</h2>" in page
    assert "## Training budget x evaluation budget" in claims
    summary = pd.read_csv(workflow_run / "results/simulation/supervised/gate/summary.csv")
    assert set(summary["measure"]) == {"purity", "participation_ratio", "feature_count",
                                       "functional_purity", "purity_all", "live_share",
                                       "pure_share", "coverage", "row_norm_median",
                                       "row_norm_p10", "row_norm_p90",
                                       "effective_threshold_median", "reachable_share",
                                       "head_weight_impure", "head_weight_unused",
                                       "lit_absent_share", "moved_present_share"}
    assert summary.groupby(["variant", "measure"]).size().eq(4).all()  # 4 seeds in test.yaml
    robustness = pd.read_csv(workflow_run / "results/simulation/supervised/gate/robustness.csv")
    assert {"attack", "norm", "eps", "accuracy", "loss", "variant", "seed"} <= set(robustness)
    assert robustness["accuracy"].between(0, 1).all()
    downstream = pd.read_csv(workflow_run / "results/simulation/supervised/gate/downstream.csv")
    assert {"mean_purity", "head_weight_impure", "head_weight_unused"} <= set(downstream)


def _job(rule, wildcards):
    return rule, tuple(sorted(wildcards.items()))


def test_every_job_records_its_provenance(workflow_run, settings_records):
    """Every job that ran a stage (each leaves a settings record) wrote a provenance JSON naming
    its rule, wildcards, code, settings and inputs, and outputs that exist."""
    ran = {_job(r["rule"], r["wildcards"]) for r in
           (json.loads(path.read_text()) for path in settings_records.glob("*.json"))}
    recorded = {}
    for path in (workflow_run / "results").rglob("*.json"):
        meta = json.loads(path.read_text())
        if isinstance(meta, dict) and {"rule", "wildcards", "outputs"} <= set(meta):
            recorded[_job(meta["rule"], meta["wildcards"])] = meta
    assert len(ran) > 50 and not ran - set(recorded), sorted(ran - set(recorded))[:5]
    for job, meta in recorded.items():
        assert meta["settings"] is not None and "inputs" in meta and meta["code"], job
        assert all((workflow_run / output).exists() for output in meta["outputs"]), job
    meta = json.loads((workflow_run / "results/data/seed1.json").read_text())
    assert meta["seeds"]["seed_index"] == 1 and meta["seeds"]["seed"] > 0
    assert meta["settings"]["seed_index"] == 1 and meta["outputs"]
    pretrain = json.loads(
        (workflow_run / "results/simulation/supervised/gate/pretrained.json").read_text())
    assert "results/data/seed0.npz" in pretrain["inputs"]
    assert "advpretrain.model.training" in pretrain["code"]
    assert "scripts/pretrain.py" in pretrain["code"]
    for figure in (workflow_run / "results" / "figures").glob("*.png"):
        assert figure.with_suffix(".json").exists(), figure


def test_every_stage_reads_exactly_its_settings(workflow_run, settings_records):
    """Each job's stage read every value of its settings (none is carried for nothing, so a
    config change reruns only what it affects); reading anything else is impossible, as the
    stage is handed its settings alone."""
    records = [json.loads(path.read_text()) for path in settings_records.glob("*.json")]
    assert {r["rule"] for r in records} >= set(ONE_JOB_PER_RULE), "a rule left no record"
    unread = {f"{r['rule']} {r['wildcards']}": r["unread"] for r in records if r["unread"]}
    assert not unread, f"settings never read by their stage: {unread}"


def test_rerun_is_a_no_op(workflow_run, repo_copy):
    result = run_snakemake(workflow_run, "--dry-run", repo=repo_copy)
    assert "Nothing to be done" in result.stdout + result.stderr


def comparable_bytes(path: Path) -> bytes | None:
    if path.suffix == ".json" and "rule" in (payload := json.loads(path.read_text())):
        payload.pop("timing", None)
        for files in (payload["inputs"], payload["outputs"]):
            for name in [name for name in files if TIMED.search(name)]:
                files.pop(name)
        return json.dumps(payload, sort_keys=True).encode()
    if path.name == "per_seed.csv" or path.name.endswith("_table.csv"):
        table = pd.read_csv(path)
        return table.drop(columns=[c for c in TIME_COLUMNS if c in table]).to_csv().encode()
    return path.read_bytes()


def test_rebuilt_jobs_give_identical_bytes(workflow_run, repo_copy, tmp_path):
    """One job of every rule rebuilt in a fresh process with another hash seed: same bytes,
    its provenance JSON included (wall-clock timings aside)."""
    rebuilt = tmp_path / "rebuilt"
    shutil.copytree(workflow_run, rebuilt, symlinks=True)
    outputs = {}
    for target in ONE_JOB_PER_RULE.values():
        meta = json.loads(_meta_of(rebuilt, target).read_text())
        outputs[target] = [*meta["outputs"], str(_meta_of(rebuilt, target).relative_to(rebuilt))]
    for paths in outputs.values():
        for path in paths:
            (rebuilt / path).unlink()
    # Layer by layer, so that no rebuilt job makes Snakemake rerun a consumer of its output
    # (the mtime trigger is off: only the missing files' jobs run).
    for layer in REBUILD_LAYERS:
        run_snakemake(rebuilt, *(ONE_JOB_PER_RULE[rule] for rule in layer), "--rerun-triggers",
                      "params", repo=repo_copy, env={"PYTHONHASHSEED": "12345"})
    differing = [path for paths in outputs.values() for path in paths
                 if comparable_bytes(workflow_run / path) != comparable_bytes(rebuilt / path)]
    assert not differing, f"files differ between two runs of their job: {differing}"


def _meta_of(workdir: Path, output: str) -> Path:
    """The provenance JSON of the job that wrote ``output`` (the JSON naming it)."""
    for meta in sorted((workdir / "results").rglob("*.json")):
        if "benchmarks" in meta.parts:
            continue
        payload = json.loads(meta.read_text())
        if output in payload.get("outputs", {}):
            return meta
    raise AssertionError(f"no provenance JSON names {output}")


# ---------------------------------------------------------------- what a change reruns


@pytest.fixture
def dry_run_after(workflow_run, repo_copy, test_config, tmp_path):
    """Dry run of the finished build after a config change: ``change(config)`` edits a copy."""
    def dry_run(change, *configs):
        config = copy.deepcopy(test_config)
        change(config)
        path = tmp_path / "changed.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return run_snakemake(workflow_run, "--dry-run", repo=repo_copy,
                             configfile=[path, *configs]).stdout
    return dry_run


def test_evaluation_change_reruns_evaluation_not_training(dry_run_after):
    planned = planned_rules(dry_run_after(
        lambda c: c["simulation"]["evaluation"].update(pgd_steps=4)))
    assert "evaluate_pretrained" in planned and "downstream" in planned
    assert "pretrain" not in planned and "sparse_coding_data" not in planned


def test_training_change_reruns_training_and_the_baselines(dry_run_after):
    """training.attack_steps is read by pre-training and by the end-to-end baseline."""
    planned = planned_rules(dry_run_after(
        lambda c: c["simulation"]["training"].update(attack_steps=2)))
    assert {"pretrain", "downstream_baselines"} <= planned
    assert "sparse_coding_data" not in planned
    data = planned_rules(dry_run_after(lambda c: c["simulation"]["data"].update(sigma=0.06)))
    assert {"sparse_coding_data", "pretrain"} <= data


def test_contrastive_change_leaves_supervised_jobs_alone(dry_run_after):
    jobs = planned_jobs(dry_run_after(
        lambda c: c["simulation"]["contrastive"]["track_eps"].update(l2=0.4)))
    retrained = {job["wildcards"]["task"] for job in jobs if job["rule"] == "pretrain"}
    assert retrained == {"contrastive", "contrastive_attack_similar",
                         "contrastive_attack_dissimilar"}


def test_runtime_options_rerun_nothing(dry_run_after):
    def options(config):
        config["images"]["cifar10"]["runtime"].update(compile=True, deterministic=False,
                                                      cpu_max_hours=5)
        config["simulation"]["training"]["resume_every"] = 7
    assert "Nothing to be done" in dry_run_after(options)


def test_make_figures_after_the_build_plans_nothing(workflow_run, repo_copy):
    """`make figures` runs what `make reproduce` ran, with the same CONFIG: on a finished build it
    has nothing to do (it once added config/cpu_only.yaml and reran the claims)."""
    (figures,) = make_snakemake_commands("figures", CONFIG=str(TEST_CONFIG))
    result = run_snakemake(workflow_run, "--dry-run", *figures.targets, repo=repo_copy,
                           configfile=list(figures.configfile))
    assert "Nothing to be done" in result.stdout, result.stdout[-3000:]


def test_cpu_overlay_plans_no_cifar_job(tmp_path):
    result = run_snakemake(tmp_path, "--dry-run", configfile=[
        TEST_CONFIG.parent / "config.yaml", TEST_CONFIG.parent / "cpu_only.yaml"])
    jobs = planned_jobs(result.stdout)
    planned = {job["rule"] for job in jobs}
    assert {"pretrain", "images_pretrain", "images_report_digits"} <= planned
    assert not any(job["wildcards"].get("dataset") == "cifar10" for job in jobs)
    assert "images_report_cifar10" not in planned


@pytest.fixture
def edited(repo_copy):
    """Edit a package file of the repository copy for one test; restore text and time after."""
    saved = []

    def edit(module, old, new):
        path = repo_copy / "advpretrain" / module
        text, times = path.read_text(), os.stat(path)
        saved.append((path, text, times))
        assert old in text, f"{old!r} is not in {module}"
        path.write_text(text.replace(old, new, 1))

    yield edit
    for path, text, times in saved:
        path.write_text(text)
        os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))


def test_plot_change_reruns_only_its_figures(workflow_run, repo_copy, edited):
    edited("figures/downstream.py", "downstream test accuracy", "downstream accuracy (test)")
    jobs = planned_jobs(run_snakemake(workflow_run, "--dry-run", repo=repo_copy).stdout)
    assert {job["rule"] for job in jobs} == {"figure", "export_figures", "all"}
    assert {job["wildcards"]["name"] for job in jobs if job["rule"] == "figure"} == {
        "downstream_accuracy", "downstream_purification", "activation_study"}


def test_a_style_change_reruns_figures_and_no_table(workflow_run, repo_copy, edited):
    """The shared look (figures/style.py) feeds every figure, the real-image ones included, and
    no table: the image report's tables (which the claims read) are drawn apart from its figure."""
    edited("figures/style.py", '"supported": "#1a9850"', '"supported": "#1b9850"')
    jobs = planned_jobs(run_snakemake(workflow_run, "--dry-run", repo=repo_copy).stdout)
    assert {job["rule"] for job in jobs} == {"figure", "export_figures", "all"}
    assert {"digits_results", "cifar10_results"} <= {
        job["wildcards"]["name"] for job in jobs if job["rule"] == "figure"}


def test_log_message_change_reruns_nothing(workflow_run, repo_copy, edited):
    edited("core/progress.py", "elapsed {_clock(now)}", "time so far {_clock(now)}")
    assert "Nothing to be done" in run_snakemake(workflow_run, "--dry-run", repo=repo_copy).stdout


def test_attack_change_reruns_exactly_what_attacks(workflow_run, repo_copy, edited):
    scripts = {rule: "images_report" if rule.startswith("images_report_") else rule
               for rule in ONE_JOB_PER_RULE}
    attacking = {rule for rule, script in scripts.items() if "advpretrain.attack.pgd" in
                 code_modules(repo_copy / "scripts" / f"{script}.py")}
    # The one attack core serves the simulations and the real-image branch alike.
    assert attacking == {"pretrain", "evaluate_pretrained", "evaluate_pair_loss", "downstream",
                         "downstream_baselines", "downstream_blend", "node_movement",
                         "threshold_study", "exact_verification", "attack_convergence",
                         "images_pretrain", "images_evaluate"}
    edited("attack/pgd.py", "return 2.5 * eps / steps", "return 2.4 * eps / steps")
    planned = planned_rules(run_snakemake(workflow_run, "--dry-run", repo=repo_copy).stdout)
    # Those whose code changed, and what reads their outputs.
    assert planned == attacking | {"pair_attack_study", "figure", "claims", "export_figures",
                                   "exact_table", "images_linear", "images_report_cifar10",
                                   "images_report_digits", "all"}
    assert not {"sparse_coding_data", "images_data"} & planned


# ---------------------------------------------------------------- the claims and their control

# Rows the negative control leaves true, since they are about the clean nets alone or the same
# nets twice: C1's non-inferiority (the same nets are as accurate), C2's "the clean nets' nodes
# flip", C4's first row (trained clean nets against the untrained layer) and C5's "the head on
# the clean layer is not robust".
CONTROL_KEEPS = ("clean accuracy", "nodes moved", "clean layer", "contrastive, worst_case")


def verdicts(path: Path) -> dict:
    table = pd.read_csv(path)
    return {(row.claim, row.scope): row.verdict for row in table.itertuples()}


def _files(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_a_test_config_run_in_a_paper_build_touches_no_paper_file(tmp_path):
    """config/test.yaml and the controls keep their outputs in runs/<name>/ (config
    output_directory, unless --directory names another): a test-config job run in a checkout
    holding the paper's figures writes there, with its own Snakemake state, and leaves results/
    and paper_figures/ as they were; the paper config writes in the checkout itself."""
    checkout = copy_repository(tmp_path / "checkout")
    paper, results = _files(checkout / "paper_figures"), _files(checkout / "results")
    # As a user types it in the checkout: no --directory (which would take precedence).
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "results/data/seed0.npz",
                    "--configfile", "config/test.yaml"], cwd=checkout, check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(checkout)})
    own = checkout / "runs" / "test"
    assert (own / "results" / "data" / "seed0.npz").exists() and (own / ".snakemake").is_dir()
    assert _files(checkout / "paper_figures") == paper and paper
    assert _files(checkout / "results") == results
    assert not (checkout / ".snakemake" / "metadata").exists()  # only Snakemake's own log there
    folders = {name: yaml.safe_load((TEST_CONFIG.parent / name).read_text())["output_directory"]
               for name in ("config.yaml", "test.yaml", "control.yaml", "near_null.yaml")}
    assert folders == {"config.yaml": ".", "test.yaml": "runs/test",
                       "control.yaml": "runs/control", "near_null.yaml": "runs/near_null"}


def test_negative_control_supports_no_absent_effect(workflow_run, tmp_path):
    """The same code on the same sizes: with the adversarial budgets at 0, no row about an
    effect of adversarial training (nor any "robust", "most" or "mainly") is supported, and
    C1's purity row is contradicted; in the test config itself C1's purity gain clears its
    smallest effect (the statistic has the power to say yes; whether the tiny layers cover the
    features is the criterion's business)."""
    run_snakemake(tmp_path, "results/claims.csv",
                  configfile=[TEST_CONFIG, TEST_CONFIG.parent / "control.yaml"])
    control = verdicts(tmp_path / "results" / "claims.csv")
    regular = verdicts(workflow_run / "results" / "claims.csv")
    rows = [row for row in control if row[0].startswith(("C1", "C2", "C3", "C4", "C5"))
            and not any(row[1].endswith(keep) for keep in CONTROL_KEEPS)]
    assert len(rows) >= 10 and "supported" not in {control[row] for row in rows}, control
    assert control[("C1", "supervised")] == "contradicted", control
    table = pd.read_csv(workflow_run / "results" / "claims.csv").set_index(["claim", "scope"])
    gain = table.loc[("C1", "supervised")]
    assert gain["ci_low"] > gain["smallest_effect"], gain
    if regular[("C1", "supervised")] == "contradicted":  # by the criterion, never the gain
        assert "is shown to fail" in gain["reason"], gain["reason"]
        assert "effect is shown below" not in gain["reason"], gain["reason"]


# "at most" bounds a cost (C1's non-inferiority), it is not the absolute word "most".
ABSOLUTE_WORDS = re.compile(r"\b(?:robust|mainly|(?<!at )most)\b")


def test_near_null_control_supports_no_absolute_word(tmp_path):
    """Training budgets 1/20 of the paper's (config/near_null.yaml): effects of noise size. No
    row whose hypothesis says "robust", "most" or "mainly" may be supported, apart from the
    hypotheses that the clean layer is *not* robust, which the clean nets decide alone."""
    run_snakemake(tmp_path, "results/claims.csv",
                  configfile=[TEST_CONFIG, TEST_CONFIG.parent / "near_null.yaml"])
    table = pd.read_csv(tmp_path / "results" / "claims.csv")
    claims = table[table["claim"] != "control+"]
    absolute = claims[claims["statement"].str.contains(ABSOLUTE_WORDS)
                      & ~claims["statement"].str.contains("not robust")]
    deciding = absolute[absolute["verdict"].isin(["supported", "contradicted", "inconclusive"])]
    assert len(deciding) >= 4, table[["claim", "scope", "statement", "verdict"]]
    supported = absolute[absolute["verdict"] == "supported"]
    assert supported.empty, supported[["claim", "scope", "verdict", "reason"]].to_string()


def test_the_sensitivity_study_runs_the_claims_pipeline_at_each_point(workflow_run, tmp_path):
    """`snakemake sensitivity` on the test config's two points (the centre and threshold 0.2):
    each point is the same pipeline (the centre ran the main build's jobs with its settings, so
    its estimates are the main build's), the table counts both points for every row, the map
    and the effects figure are exported, and every stage, the points' own included, reads
    exactly its settings."""
    records = tmp_path / "records"
    run_snakemake(tmp_path, "sensitivity", env={RECORD_ENV: str(records)})
    study = tmp_path / "results" / "sensitivity"
    main = pd.read_csv(workflow_run / "results" / "claims.csv").set_index(["claim", "scope"])
    centre = pd.read_csv(study / "centre" / "claims.csv").set_index(["claim", "scope"])
    simulated = centre.index[~centre.index.get_level_values("claim").str.startswith("C6")]
    pd.testing.assert_frame_equal(centre.loc[simulated, ["estimate", "ci_low", "ci_high"]],
                                  main.loc[simulated, ["estimate", "ci_low", "ci_high"]])
    moved = yaml.safe_load((study / "threshold=0.2" / "run" / "config.yaml").read_text())
    assert moved["simulation"]["network"]["threshold"] == 0.2
    summary = pd.read_csv(tmp_path / "paper_figures" / "sensitivity.csv")
    # Both points counted for every row: testable ones in n_points, untestable ones apart.
    assert len(summary) >= 15, summary
    assert set(summary["n_points"] + summary["untestable"]) <= {1, 2}, summary
    assert summary["holds"].str.fullmatch(
        r"holds on \d of [012] settings( \([12] untestable\))?").all(), summary["holds"]
    assert not summary["claim"].str.startswith("C6").any()
    for name in ("sensitivity_map", "sensitivity_effects"):
        assert (tmp_path / "paper_figures" / f"{name}.png").stat().st_size > 10_000
    rules = {json.loads(path.read_text())["rule"]: json.loads(path.read_text())["unread"]
             for path in records.glob("*.json")}
    assert {"sensitivity_point", "sensitivity_table", "pretrain", "claims"} <= set(rules)
    assert not any(rules.values()), rules


def test_the_mechanism_study_runs_the_claims_pipeline_at_each_listed_point(tmp_path):
    """`snakemake mechanism` on the test config's two listed points of its 2 x 2 x 2 grid (the
    paper's model at budget 0.25; PGD-3 through the smoothed gate, unit rows, budget 0.5): each
    point's run takes its levels' settings, the end-to-end baseline included; the table gives
    every row's verdict at both points and where it is restored; the figure is exported; every
    stage, the points' own included, reads exactly its settings. Needs no main build."""
    records = tmp_path / "records"
    run_snakemake(tmp_path, "mechanism", env={RECORD_ENV: str(records)})
    study = tmp_path / "results" / "mechanism"
    points = ["budget=0.25,attack=fgm,threshold=absolute",
              "budget=0.5,attack=pgd3_smooth,threshold=unit"]
    assert sorted(path.name for path in study.iterdir() if path.is_dir()) == points
    moved = yaml.safe_load((study / points[1] / "run" / "config.yaml").read_text())
    assert moved["simulation"]["training"]["attack_steps"] == 3
    assert moved["simulation"]["training"]["attack_surrogate"] == "smooth_0.1"
    assert moved["simulation"]["network"]["unit_rows"] is True
    assert moved["simulation"]["pretrain_variants"]["fgm_l2"]["eps"] == 0.5
    assert moved["simulation"]["evaluation"]["reference_attack"]["eps"] == 0.5
    assert moved["mechanism"]["factors"] == {} and moved["sensitivity"]["axes"] == {}
    assert (study / points[1] / "run" / "results" / "simulation" / "baselines" / "gate"
            / "downstream.csv").exists()
    summary = pd.read_csv(tmp_path / "paper_figures" / "mechanism.csv")
    assert len(summary) >= 15 and not summary["claim"].str.startswith("C6").any()
    assert {"restored_at", "not_restored_at", *points} <= set(summary.columns)
    controls = summary[summary["claim"] == "control+"]
    assert (controls["restored_at"] == ", ".join(points)).all(), controls
    verdicts = pd.read_csv(study / "verdicts.csv")
    assert set(verdicts["budget"]) == {0.25, 0.5} and set(verdicts["point"]) == set(points)
    assert "| P2 | budget=0.5,attack=pgd3_smooth,threshold=unit |" in (
        tmp_path / "paper_figures" / "mechanism.md").read_text()
    assert (tmp_path / "paper_figures" / "mechanism.png").stat().st_size > 10_000
    measures = pd.read_csv(tmp_path / "paper_figures" / "mechanism_measures.csv")
    assert set(measures["point"]) == set(points)
    assert set(measures["task"]) == {"supervised", "contrastive"}
    assert measures[["row_norm_median", "effective_threshold_median",
                     "downstream_worst_case"]].notna().all().all(), measures
    assert (tmp_path / "paper_figures" / "mechanism_reach.png").stat().st_size > 10_000
    rules = {json.loads(path.read_text())["rule"]: json.loads(path.read_text())["unread"]
             for path in records.glob("*.json")}
    assert {"mechanism_point", "mechanism_table", "pretrain", "downstream_baselines",
            "claims"} <= set(rules)
    assert not any(rules.values()), rules


def test_positive_control_is_supported(workflow_run):
    """The pipeline can say yes where the answer is yes by construction: a clean head on the
    perfectly purified layer, and on the blend study's pure end, is robust at the small budgets
    (both norms), on certified evidence (advpretrain.claims.simulation: positive_control)."""
    table = pd.read_csv(workflow_run / "results" / "claims.csv")
    controls = table[table["claim"] == "control+"]
    assert len(controls) == 4, table[["claim", "scope"]]
    assert (controls["verdict"] == "supported").all(), controls[["scope", "verdict", "reason"]]
    assert (controls["evidence"] == "certified bound").all()


def test_budget_range_covers_the_sandwich_grid(workflow_run):
    """results/claims_by_budget.csv: C2 and C5 at every budget of the test config's sandwich
    grid, on both kinds of evidence, each with a four-way verdict or descriptive."""
    by_budget = pd.read_csv(workflow_run / "results" / "claims_by_budget.csv")
    config = yaml.safe_load(TEST_CONFIG.read_text())
    grid = config["simulation"]["evaluation"]["ensemble"]["eps_grid"]
    budgets = {(norm, float(eps)) for norm, values in grid.items() for eps in values}
    for group, part in by_budget.groupby("group"):
        ensemble = part[part["basis"] == "ensemble"]
        assert set(zip(ensemble["norm"], ensemble["eps"])) == budgets, group
    assert set(by_budget["verdict"]) <= {"supported", "contradicted", "inconclusive",
                                         "untestable", "descriptive"}
    assert set(by_budget["group"]) == {"C2, supervised",
                                       "C5, downstream after supervised pre-training",
                                       "C5, downstream after contrastive pre-training"}


def test_robust_accuracy_is_a_sandwich(workflow_run):
    """Gradient-masking checks on every network and budget of the test build: certified <=
    worst case over the ensemble <= each of the paper's attacks (same samples), and the worst
    case falls as the budget grows (mean over seeds). That a huge budget brings it to chance is
    tested on trained networks in tests/unit/evaluation/test_ensemble_bounds.py."""
    paths = sorted((workflow_run / "results" / "simulation").glob("*/*/robustness.csv"))
    jobs = {path.parent.relative_to(workflow_run / "results" / "simulation") for path in paths}
    assert {Path("supervised/gate"), Path("contrastive/gate")} <= jobs, jobs
    for path in paths:
        frame = pd.read_csv(path)
        wide = frame.pivot_table(index=["variant", "seed", "norm", "eps"], columns="attack",
                                 values="accuracy").dropna(subset=["worst_case"])
        assert len(wide) > 0, path
        assert (wide["certified"] <= wide["worst_case"]).all(), path
        for paper in ("fgm", "pgd"):
            assert (wide["worst_case"] <= wide[paper] + 1e-9).all(), (path, paper)
        curves = wide["worst_case"].groupby(["variant", "norm", "eps"]).mean()
        for (variant, norm), curve in curves.groupby(["variant", "norm"]):
            assert (curve.diff().dropna() <= 0.02).all(), (path, variant, norm, curve)


def test_a_moved_touched_and_commented_checkout_has_nothing_to_do(workflow_run, repo_copy,
                                                                  tmp_path):
    """The checkout and its finished build copied elsewhere (a scratch space, a colleague's
    folder), every script and module touched (what a `git checkout` does), a comment and a
    docstring edited in the training code: nothing recorded names the old place, and code is
    compared by what it does, so nothing reruns."""
    moved_repo, moved_build = tmp_path / "elsewhere" / "checkout", tmp_path / "build"
    shutil.copytree(repo_copy, moved_repo, symlinks=True)
    shutil.copytree(workflow_run, moved_build, symlinks=True)
    for folder, pattern in (("scripts", "*.py"), ("advpretrain", "**/*.py")):
        for path in (moved_repo / folder).glob(pattern):
            path.touch()
    for module, old, new in (("model/training.py", '"""', '"""Edited: '),
                             ("attack/pgd.py", "return 2.5 * eps / steps",
                              "return 2.5 * eps / steps  # a comment")):
        path = moved_repo / "advpretrain" / module
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new, 1))
    dry_run = run_snakemake(moved_build, "--dry-run", repo=moved_repo).stdout
    assert "Nothing to be done" in dry_run, dry_run[-3000:]


def test_a_whole_number_written_as_an_int_reruns_nothing(dry_run_after):
    def as_int(config):
        config["simulation"]["pretrain_variants"]["clean"]["eps"] = 0
        config["simulation"]["evaluation"]["eps_grid"]["l2"][0] = 0
    assert "Nothing to be done" in dry_run_after(as_int)


def test_heatmap_seed_reruns_only_its_figure(dry_run_after):
    jobs = planned_jobs(dry_run_after(
        lambda c: c["simulation"]["evaluation"].update(heatmap_seed=1)))
    assert {job["rule"] for job in jobs} <= {"figure", "export_figures", "run_notebook", "all"}
    assert {job["wildcards"]["name"] for job in jobs if job["rule"] == "figure"} == {
        "coefficient_heatmaps"}


def test_outputs_follow_the_umask_and_none_is_write_protected(workflow_run):
    """Every file of the build has the mode the umask gives (group-readable with 0o022 or
    0o002, not mkstemp's 0600) and stays writable: a write-protected output (``protected()``)
    stops a rerun for a user who is not root."""
    umask = os.umask(0o077)
    os.umask(umask)
    files = [path for folder in ("results", "paper_figures")
             for path in (workflow_run / folder).rglob("*") if path.is_file()]
    wrong = {str(path.relative_to(workflow_run)): oct(path.stat().st_mode & 0o777)
             for path in files if path.stat().st_mode & 0o777 != 0o666 & ~umask}
    assert files and not wrong, f"modes other than {oct(0o666 & ~umask)}: {wrong}"


# A user who is not root (CI runs as root and sets it: .ci/run); Snakemake's write protection and
# file modes only show for such a user.
UNPRIVILEGED_USER = os.environ.get("ADVPRETRAIN_UNPRIVILEGED_USER")
DIGITS_ENCODER = "results/images/digits/supervised_adversarial/seed0/encoder.pt"


@pytest.mark.skipif(not UNPRIVILEGED_USER or os.geteuid() != 0,
                    reason="needs root and ADVPRETRAIN_UNPRIVILEGED_USER (as in CI)")
def test_a_user_who_is_not_root_reruns_a_changed_image_setting(workflow_run, repo_copy,
                                                                test_config):
    """The finished build, copied to a folder the user owns: a changed image setting plans the
    image pre-training again (no "Write-protected output files"), and what the user's job writes
    has the mode the user's umask (0o002) gives."""
    folder = Path(tempfile.mkdtemp(prefix="advpretrain-user-"))
    try:
        os.chmod(folder, 0o755)
        repo, build = folder / "repository", folder / "workflow"
        shutil.copytree(repo_copy, repo, symlinks=True)
        shutil.copytree(workflow_run, build, symlinks=True)
        test_config["images"]["digits"]["supervised"]["epochs"]["adversarial"] = 2
        changed = folder / "changed.yaml"
        changed.write_text(yaml.safe_dump(test_config, sort_keys=False))
        subprocess.run(["chown", "-R", f"{UNPRIVILEGED_USER}:", str(folder)], check=True)

        def as_user(*args):
            command = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"),
                       "--directory", str(build), "--cores", "1", *args,
                       "--configfile", str(changed)]
            return subprocess.run(
                ["runuser", "-u", UNPRIVILEGED_USER, "--", "sh", "-c",
                 'umask 002 && exec "$@"', "sh", *command],
                cwd=build, capture_output=True, text=True,
                env={**os.environ, "PYTHONPATH": str(repo), "HOME": str(folder),
                     "XDG_CACHE_HOME": str(folder / ".cache")})

        dry_run = as_user("--dry-run")
        assert dry_run.returncode == 0, dry_run.stdout[-3000:] + dry_run.stderr[-3000:]
        assert "images_pretrain" in planned_rules(dry_run.stdout)
        rerun = as_user(DIGITS_ENCODER)
        assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
        assert (build / DIGITS_ENCODER).stat().st_mode & 0o777 == 0o664
    finally:
        shutil.rmtree(folder)


def test_a_deleted_provenance_json_is_rebuilt(workflow_run, repo_copy, tmp_path):
    """Every provenance JSON is an input of a consumer (or of `all`), so a deleted one is made
    again by its job: Snakemake remakes only the missing outputs that something needs."""
    build = tmp_path / "build"
    shutil.copytree(workflow_run, build, symlinks=True)
    deleted = {"results/data/seed1.json": "sparse_coding_data",
               "results/simulation/supervised/gate/pretrained.json": "pretrain",
               "results/simulation/contrastive/gate/evaluation.json": "evaluate_pretrained",
               "results/figures/eps_sweep.json": "figure",
               "results/claims.json": "claims",
               "results/images/digits/supervised_adversarial/seed1/pretrain.json":
                   "images_pretrain"}
    for path in deleted:
        (build / path).unlink()
    jobs = planned_jobs(run_snakemake(build, "--dry-run", repo=repo_copy).stdout)
    missing = {path: rule for path, rule in deleted.items()
               if not any(job["rule"] == rule and path in job["reason"] for job in jobs)}
    assert not missing, f"not rebuilt: {missing}"
