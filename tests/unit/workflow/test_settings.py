"""Settings per stage, the read recorder, and code params from the package's import graph."""

from __future__ import annotations

import copy

import pytest
from conftest import REPO

from advpretrain.core.canonical import Recorder, canonical, fingerprint, plain, unrecorded
from advpretrain.workflow import params as settings
from advpretrain.workflow.code_inputs import (
    RESULT_NEUTRAL,
    code_fingerprints,
    dependencies,
    import_graph,
    syntax_fingerprint,
)


def test_recorder_notes_values_read_and_finds_the_rest():
    view = Recorder({"a": 1, "b": {"c": [1, 2], "d": 3}, "e": {}})
    assert view["a"] == 1 and view["b"]["c"] == [1, 2]
    assert "d" in view["b"] and list(view["b"]) == ["c", "d"]  # neither reads a value
    assert view.unread() == {("b", "d"), ("e",)}
    assert view["e"] == {} and view.unread() == {("b", "d")}
    plain(view["b"])  # a stage that takes a whole section reads all of it
    assert view.unread() == set()


def test_provenance_and_fingerprints_are_not_reads():
    view = Recorder({"a": 1, "b": {"c": 2}})
    assert unrecorded(view) == {"a": 1, "b": {"c": 2}}
    assert fingerprint(view) == fingerprint({"b": {"c": 2}, "a": 1})
    assert view.unread() == {("a",), ("b", "c")}


def test_canonical_sorts_keys_at_every_level():
    value = canonical({"b": {"y": 1, "x": (2, {"q": 0, "p": 1})}, "a": 0})
    assert repr(value) == "{'a': 0, 'b': {'x': [2, {'p': 1, 'q': 0}], 'y': 1}}"


def test_key_order_of_the_config_does_not_change_settings(test_config):
    reordered = {key: test_config[key] for key in reversed(list(test_config))}
    reordered["simulation"] = dict(reversed(list(test_config["simulation"].items())))
    variants = test_config["simulation"]["pretrain_variants"]
    reordered["simulation"]["pretrain_variants"] = dict(reversed(list(variants.items())))
    assert repr(settings.pretrain(reordered, "supervised", "gate")) == repr(
        settings.pretrain(test_config, "supervised", "gate"))


def test_stage_settings_hold_what_the_stage_reads(test_config):
    """The issue's examples: settings the stages read, and no more."""
    baselines = settings.downstream_baselines(test_config, "gate")
    assert baselines["end_to_end"]["attack_steps"] == \
        test_config["simulation"]["training"]["attack_steps"]
    assert baselines["heads"]["log_every"] == test_config["simulation"]["training"]["log_every"]
    blend = settings.downstream_blend(test_config, "gate")
    assert blend["base_variant"] == test_config["claims"]["clean_variant"]
    supervised = settings.pretrain(test_config, "supervised", "gate")
    assert "track_eps" not in supervised and "score_scale" not in supervised["architecture"]
    assert "resume_every" not in supervised["training"]  # where to resume is no setting
    contrastive = settings.pretrain(test_config, "contrastive", "gate")
    assert contrastive["track_eps"] == test_config["simulation"]["contrastive"]["track_eps"]
    tanh = settings.pretrain(test_config, "supervised", "tanh")
    assert "threshold" not in tanh["architecture"]  # tanh does not read e


def test_downstream_stages_carry_the_fingerprint_of_their_model(test_config):
    model = fingerprint(settings.pretrain(test_config, "contrastive", "gate"))
    assert settings.downstream(test_config, "contrastive", "gate")["model"] == model
    assert settings.evaluate_pair_loss(test_config, "contrastive", "gate")["model"] == model
    encoder = fingerprint(settings.images_pretrain(test_config, "digits", "supervised_clean", 1))
    assert settings.images_evaluate(test_config, "digits", "supervised_clean", 1)["encoder"] \
        == encoder
    heads = fingerprint(settings.images_linear(test_config, "digits", "supervised_clean", 1))
    assert settings.images_evaluate(test_config, "digits", "supervised_clean", 1)["heads"] == heads


def test_pair_attack_tasks_share_the_contrastive_seed(test_config):
    section = test_config["simulation"]["contrastive"]
    for task, pairs in settings.PAIR_ATTACK_TASKS.items():
        job = settings.pretrain(test_config, task, "gate")
        assert job["seed_task"] == "contrastive" and job["objective"] == "contrastive"
        assert [v["variant"] for v in job["variants"]] == section["pair_attack_study"]
        assert {v["pairs"] for v in job["variants"]} == {pairs}


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    state = {}

    def visit(module, path):
        state[module] = "open"
        for name in graph.get(module, ()):
            if state.get(name) == "open":
                pytest.fail("import cycle: " + " -> ".join([*path, module, name]))
            if name not in state:
                visit(name, [*path, module])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [])


def test_code_params_follow_imports_and_skip_neutral_modules():
    pretrain = code_fingerprints(REPO / "scripts" / "pretrain.py")
    names = {name.removeprefix("advpretrain.") for name in pretrain}
    assert {"scripts/pretrain.py", "simulation.pretrain", "simulation.jobs", "model.training",
            "attack.pgd", "model.tasks", "advpretrain", "evaluation"} <= names
    assert not {"core.progress", "workflow.run", "core.errors", "figures.style"} & names
    assert not any("/" in name or "\\" in name for name in names - {"scripts/pretrain.py"}), \
        "no paths: a build that moves must not rerun"
    assert "advpretrain.core.progress" in RESULT_NEUTRAL
    figure = code_fingerprints(REPO / "scripts" / "figure.py", "advpretrain.figures.downstream")
    assert "advpretrain.figures.downstream" in figure
    assert not any(m.startswith("advpretrain.simulation")
                   for m in dependencies(["advpretrain.figures.style"]))


def _fingerprint_of(tmp_path, text):
    path = tmp_path / f"module{len(list(tmp_path.iterdir()))}.py"
    path.write_text(text)
    return syntax_fingerprint(path)


def test_code_fingerprint_ignores_comments_docstrings_and_layout(tmp_path):
    original = _fingerprint_of(tmp_path, '''"""A module."""


def step(eps, steps):
    """The step size."""
    return 2.5 * eps / steps
''')
    assert _fingerprint_of(tmp_path, '''"""Another text."""
# a comment


def step(eps, steps):  # why
    """Changed docstring."""

    return 2.5 * eps / steps
''') == original
    assert _fingerprint_of(tmp_path, '''def step(eps, steps):
    return 2.4 * eps / steps
''') != original
    assert _fingerprint_of(tmp_path, '''def step(eps, steps):
    return "2.5 * eps / steps"
''') != original


def test_heatmap_seed_is_a_setting_of_the_figure_only(test_config):
    other = copy.deepcopy(test_config)
    other["simulation"]["evaluation"]["heatmap_seed"] = 1
    for task in ("supervised", "contrastive"):
        assert settings.evaluate_pretrained(test_config, task, "gate") == \
            settings.evaluate_pretrained(other, task, "gate")
    assert settings.figure(other, "coefficient_heatmaps")["heatmap_seed"] == 1
    assert settings.figure(test_config, "coefficient_heatmaps")["heatmap_seed"] == 0


def test_a_whole_number_as_int_or_float_is_one_setting(test_config):
    """``eps: 0`` and ``eps: 0.0`` give the same params (Snakemake compares their repr) and the
    same fingerprint; other values still differ."""
    as_int = copy.deepcopy(test_config)
    as_int["simulation"]["pretrain_variants"]["clean"]["eps"] = 0
    for stage_settings in (settings.pretrain, settings.evaluate_pretrained):
        a = stage_settings(test_config, "supervised", "gate")
        b = stage_settings(as_int, "supervised", "gate")
        assert repr(a) == repr(b) and fingerprint(a) == fingerprint(b)
    as_int["simulation"]["pretrain_variants"]["clean"]["eps"] = 0.001
    changed = settings.pretrain(as_int, "supervised", "gate")
    assert repr(changed) != repr(settings.pretrain(test_config, "supervised", "gate"))
    assert fingerprint(changed) != fingerprint(settings.pretrain(test_config, "supervised", "gate"))


def test_plumbing_needs_no_torch():
    """The Snakefile imports the plumbing (params, code inputs, config, the figure registry):
    nothing it imports may pull in torch or matplotlib."""
    plumbing = [m for m in import_graph() if m.startswith("advpretrain.workflow")]
    for module in dependencies(plumbing):
        assert not module.startswith(("advpretrain.model", "advpretrain.evaluation",
                                      "advpretrain.figures", "advpretrain.simulation",
                                      "advpretrain.images", "advpretrain.claims")), module
    for module in plumbing:  # (workflow.run imports core.fileio inside ``run``)
        path = REPO / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = REPO / module.replace(".", "/") / "__init__.py"
        source = path.read_text()
        assert "\nimport torch" not in source and "\nimport matplotlib" not in source, module


def test_table_stages_start_without_torch():
    """The stages that only read and write tables (the claims, the exact table, the figures,
    the image reports, the notebooks) never import torch, which costs each job seconds of
    start-up; ``workflow.run`` then leaves torch's threads alone."""
    import subprocess
    import sys

    stages = ["advpretrain.claims.claims", "advpretrain.simulation.exact_table",
              "advpretrain.figures.figure", "advpretrain.images.report",
              "advpretrain.figures.run_notebook", "advpretrain.workflow.run"]
    code = (f"import sys; import {', '.join(stages)}; "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
