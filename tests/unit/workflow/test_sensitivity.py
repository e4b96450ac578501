"""The studies: the sensitivity study's points, their configs, the table of their verdicts and its
figures; the mechanism study's factorial and restricted points, their configs and table."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml
from conftest import REPO

from advpretrain.claims.studies import mechanism_table, sensitivity_table
from advpretrain.figures.mechanism import plot_mechanism, plot_mechanism_reach
from advpretrain.figures.sensitivity import plot_sensitivity_effects, plot_sensitivity_map
from advpretrain.workflow import params
from advpretrain.workflow.config import ConfigError, validate_config
from advpretrain.workflow.figures import PAPER, exported, figure_settings
from advpretrain.workflow.studies import (
    CENTRE,
    MECHANISM,
    SENSITIVITY,
    point_config,
    point_levels,
    study_points,
)


@pytest.fixture(scope="module")
def paper_config():
    return validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


def test_points_are_the_centre_each_axis_value_and_the_joint_design(paper_config):
    points = study_points(paper_config)
    study = paper_config["sensitivity"]
    axis_points = sum(len(next(iter(keys.values()))) for keys in study["axes"].values())
    assert list(points)[0] == CENTRE and points[CENTRE] == {}
    assert len(points) == 1 + axis_points + study["joint"]["points"]
    assert points["threshold=0.5"] == {"simulation.network.threshold": 0.5}
    for name in (f"joint{k}" for k in range(1, study["joint"]["points"] + 1)):
        moved = params.sensitivity_table(paper_config)["points"]
        axes = next(point["axes"] for point in moved if point["name"] == name)
        assert len(axes) >= study["joint"]["min_changes"], (name, axes)
    assert study_points(copy.deepcopy(paper_config)) == points  # seeded: the same every time
    reseeded = {**paper_config, "base_seed": paper_config["base_seed"] + 1}
    assert study_points(reseeded) != points


def test_a_point_config_is_the_config_with_the_study_and_its_own_changes(paper_config):
    config = point_config(paper_config, "d=100")
    assert config["simulation"]["data"]["d"] == 100
    assert paper_config["simulation"]["data"]["d"] == 50  # the paper config is left alone
    assert config["simulation"]["eps_sweep"]["values"] == []  # sensitivity.study
    assert not config["images"]["digits"]["enabled"] and not config["images"]["cifar10"]["enabled"]
    assert config["sensitivity"]["axes"] == {} and config["sensitivity"]["joint"]["points"] == 0
    assert config["mechanism"]["factors"] == {} and "points" not in config["mechanism"]
    validate_config(config)
    assert study_points(config) == {CENTRE: {}} and study_points(config, MECHANISM) == {}


def test_a_bad_axis_is_refused_naming_the_point_and_the_key(paper_config):
    config = copy.deepcopy(paper_config)
    config["sensitivity"]["axes"]["hidden"] = {"simulation.network.hiden": [200]}
    with pytest.raises(ConfigError, match=r"point hidden=200.*simulation.network.hiden"):
        validate_config(config)
    config["sensitivity"]["axes"]["hidden"] = {"simulation.network.hidden": [0]}
    with pytest.raises(ConfigError, match=r"sensitivity point hidden=0: .*network.hidden"):
        validate_config(config)
    config["sensitivity"]["axes"]["hidden"] = {"simulation.network.hidden": [200, 50],
                                               "simulation.data.d": [100]}
    with pytest.raises(ConfigError, match="sensitivity.axes.hidden: .*differ in length"):
        validate_config(config)


def test_the_paper_and_the_study_export_their_own_figures(test_config):
    assert {"sensitivity_map", "sensitivity_effects"} == set(exported(SENSITIVITY, test_config))
    assert exported(MECHANISM, test_config) == ["mechanism", "mechanism_reach"]
    targets = [set(exported(target, test_config)) for target in (PAPER, SENSITIVITY, MECHANISM)]
    assert not (targets[0] & targets[1] or targets[0] & targets[2] or targets[1] & targets[2])


def _claims(rows):
    columns = ["claim", "scope", "statement", "statistic", "control", "evidence", "n_seeds",
               "estimate", "ci_low", "ci_high", "smallest_effect", "criterion",
               "criterion_estimate", "criterion_low", "criterion_high", "p_value", "verdict",
               "reason", "detail", "source"]
    lines = [{"claim": claim, "scope": scope, "statement": f"{claim} {scope} holds",
              "statistic": "", "control": "", "evidence": "measured", "n_seeds": 5,
              "estimate": estimate, "ci_low": estimate - 0.1, "ci_high": estimate + 0.1,
              "smallest_effect": 0.05, "criterion": "", "criterion_estimate": float("nan"),
              "criterion_low": float("nan"), "criterion_high": float("nan"), "p_value": 0.01,
              "verdict": verdict, "reason": "", "detail": "", "source": ""}
             for claim, scope, estimate, verdict in rows]
    return pd.DataFrame(lines, columns=columns)


def test_the_table_counts_where_each_verdict_holds_and_where_it_breaks(tmp_path):
    tables = {
        "centre": [("C1", "supervised", 0.3, "supported"), ("C2", "pgd", 0.4, "descriptive"),
                   ("C3", "contrastive", 0.0, "contradicted"),
                   ("C6-digits", "digits", 0.2, "supported")],
        "d=100": [("C1", "supervised", 0.01, "inconclusive"), ("C2", "pgd", 0.4, "descriptive"),
                  ("C3", "contrastive", 0.2, "supported")],
        "joint1": [("C1", "supervised", 0.3, "supported"), ("C2", "pgd", 0.4, "descriptive"),
                   ("C3", "contrastive", -0.1, "contradicted")],
    }
    paths = []
    for name, rows in tables.items():
        paths.append(str(tmp_path / f"{name}.csv"))
        _claims(rows).to_csv(paths[-1], index=False)
    settings = {"centre": "centre", "study": {"simulation.eps_sweep.values": []},
                "excluded_claims": ["C6"],
                "points": [{"name": "centre", "changes": {}, "axes": {}},
                           {"name": "d=100", "changes": {"simulation.data.d": 100},
                            "axes": {"d": "100"}},
                           {"name": "joint1", "changes": {"simulation.data.d": 100,
                                                          "simulation.data.s": 5},
                            "axes": {"d": "100", "s": "5"}}]}
    outputs = {name: str(tmp_path / f"out_{name}") for name in ("verdicts", "csv", "md")}
    sensitivity_table(settings, {"points": paths}, outputs)
    summary = pd.read_csv(outputs["csv"]).set_index("claim")
    assert list(summary.index) == ["C1", "C3"]  # C6 is not varied, C2's row decides nowhere
    assert summary.loc["C1", "holds"] == "holds on 2 of 3 settings"
    assert summary.loc["C1", "breaks_at"] == "d=100 (inconclusive)"
    assert summary.loc["C3", "centre_verdict"] == "contradicted"
    assert summary.loc["C3", "breaks_at"] == "d=100 (supported)"
    assert summary.loc["C3", ["supported", "contradicted", "inconclusive"]].tolist() == [1, 2, 0]
    page = (tmp_path / "out_md").read_text()
    assert "holds on 2 of 3 settings" in page and "simulation.data.s=5" in page
    verdicts = pd.read_csv(outputs["verdicts"])
    assert set(verdicts["point"]) == set(tables) and "C6-digits" not in set(verdicts["claim"])
    figure_settings = {"points": list(tables)}
    plot_sensitivity_map({"verdicts": [outputs["verdicts"]]}, figure_settings, tmp_path / "map")
    plot_sensitivity_effects({"verdicts": [outputs["verdicts"]]}, figure_settings,
                             tmp_path / "effects")
    assert all((tmp_path / f"{stem}.{ext}").stat().st_size > 1000
               for stem in ("map", "effects") for ext in ("pdf", "png"))


# The mechanism study.

FACTORS = {
    "budget": {"0.1": {"simulation.evaluation.reference_attack.eps": 0.1,
                       "simulation.evaluation.ensemble.movement_eps_grid.l2": [0.1, 0.2]},
               "0.2": {"simulation.evaluation.reference_attack.eps": 0.2}},
    "attack": {"fgm": {"simulation.training.attack_steps": 1},
               "pgd10": {"simulation.training.attack_steps": 10}},
    "threshold": {"absolute": {"simulation.network.unit_rows": False},
                  "relative": {"simulation.network.threshold_mode": "relative"},
                  "unit": {"simulation.network.unit_rows": True}},
}


def _with_factors(config, factors=FACTORS, points=None):
    config = copy.deepcopy(config)
    config["mechanism"]["factors"] = copy.deepcopy(factors)
    config["mechanism"].pop("points", None)
    if points is not None:
        config["mechanism"]["points"] = points
    return config


def test_the_mechanism_points_are_the_full_factorial_grid(paper_config):
    config = _with_factors(paper_config)
    points = study_points(config, MECHANISM)
    assert len(points) == 2 * 2 * 3
    assert list(points)[:4] == ["budget=0.1,attack=fgm,threshold=absolute",
                                "budget=0.1,attack=fgm,threshold=relative",
                                "budget=0.1,attack=fgm,threshold=unit",
                                "budget=0.1,attack=pgd10,threshold=absolute"]
    assert points["budget=0.2,attack=pgd10,threshold=unit"] == {
        "simulation.evaluation.reference_attack.eps": 0.2,
        "simulation.training.attack_steps": 10, "simulation.network.unit_rows": True}
    assert point_levels(config)["budget=0.2,attack=fgm,threshold=relative"] == {
        "budget": "0.2", "attack": "fgm", "threshold": "relative"}


def test_listed_points_restrict_the_grid_in_their_order(paper_config):
    config = _with_factors(paper_config, points=["threshold=unit,attack=pgd10,budget=0.2",
                                                 "budget=0.1,attack=fgm,threshold=absolute"])
    validate_config(config)
    assert list(study_points(config, MECHANISM)) == ["budget=0.2,attack=pgd10,threshold=unit",
                                                     "budget=0.1,attack=fgm,threshold=absolute"]


def test_the_paper_mechanism_design_asks_each_question_at_the_paper_budget(paper_config):
    """The threshold's scale with the paper's attack (absolute, relative, unit rows), and the
    training attack that sees the gate's jump with the free and with unit rows; every point at
    the paper config's budget; the factors keep every level (budget 0.1, PGD-10 through the
    gate's own gradient) for a fuller design."""
    levels = point_levels(paper_config)
    factors = paper_config["mechanism"]["factors"]
    assert set(factors) == {"budget", "attack", "threshold"}
    assert {"0.1", "0.2"} <= set(factors["budget"]) and "pgd10" in factors["attack"]
    assert {point["budget"] for point in levels.values()} == {"0.2"}
    assert {(point["attack"], point["threshold"]) for point in levels.values()} == {
        ("fgm", "absolute"), ("fgm", "relative"), ("fgm", "unit"),
        ("pgd10_smooth", "absolute"), ("pgd10_smooth", "unit")}
    assert paper_config["simulation"]["pretrain_variants"]["fgm_l2"]["eps"] == 0.2
    full_grid = _with_factors(paper_config, factors)
    config = point_config(full_grid, "budget=0.1,attack=pgd10_smooth,threshold=unit", MECHANISM)
    sim = config["simulation"]
    assert sim["pretrain_variants"]["fgm_l2"]["eps"] == 0.1
    assert sim["contrastive"]["variants"]["fgm_l2"]["eps"] == 0.1
    assert sim["evaluation"]["reference_attack"]["eps"] == 0.1
    assert sim["training"]["attack_steps"] == 10
    assert sim["training"]["attack_surrogate"] == "smooth_0.1"
    assert sim["network"]["unit_rows"] and sim["network"]["threshold_mode"] == "absolute"
    assert sim["eps_sweep"]["values"] == [] and sim["evaluation"]["exact"]["variants"] == []
    assert not config["images"]["digits"]["enabled"]
    assert config["sensitivity"]["axes"] == {} and config["mechanism"]["factors"] == {}
    assert paper_config["simulation"]["training"]["attack_steps"] == 1  # left alone


@pytest.mark.parametrize("points, message", [
    (["budget=0.3,attack=fgm,threshold=unit"],
     r"mechanism.points: point 'budget=0.3,attack=fgm,threshold=unit': '0.3' is not a level "
     r"of factor budget"),
    (["budget=0.1,atack=fgm,threshold=unit"], r"'atack' is not a factor"),
    (["budget=0.1,attack=fgm"], r"'budget=0.1,attack=fgm': sets no level of factor\(s\) "
                                r"threshold"),
    (["budget=0.1,attack=fgm,attack=pgd10,threshold=unit"], r"factor attack is set twice"),
    (["budget=0.1,attack=fgm,threshold=unit", "attack=fgm,budget=0.1,threshold=unit"],
     r"listed more than once"),
])
def test_a_bad_listed_point_is_refused_naming_it(paper_config, points, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(_with_factors(paper_config, points=points))


def test_a_bad_level_is_refused_naming_the_point_and_the_key(paper_config):
    factors = copy.deepcopy(FACTORS)
    factors["attack"]["pgd10"] = {"simulation.training.atack_steps": 10}
    with pytest.raises(ConfigError, match=r"config key mechanism \(point budget=0.1,attack=pgd10,"
                                          r"threshold=absolute\): simulation.training.atack_steps"):
        validate_config(_with_factors(paper_config, factors))
    factors["attack"]["pgd10"] = {"simulation.training.attack_steps": 0}
    with pytest.raises(ConfigError, match=r"mechanism point budget=0.1,attack=pgd10,"
                                          r"threshold=absolute: config key "
                                          r"simulation.training.attack_steps"):
        validate_config(_with_factors(paper_config, factors))
    factors["attack"]["pgd10"] = {"simulation.network.unit_rows": True}
    with pytest.raises(ConfigError, match=r"simulation.network.unit_rows is set by more than one "
                                          r"factor \(attack, threshold\)"):
        validate_config(_with_factors(paper_config, factors))
    factors = copy.deepcopy(FACTORS)
    factors["budget"]["0.3"] = {"simulation.evaluation.reference_attack.eps": 0.3}
    with pytest.raises(ConfigError, match=r"mechanism point budget=0.3,attack=fgm,"
                                          r"threshold=absolute: .*reference_attack.eps"):
        validate_config(_with_factors(paper_config, factors))


def test_the_mechanism_table_says_where_each_row_is_restored(tmp_path, paper_config):
    tables = {
        "budget=0.2,attack=fgm,threshold=absolute": [
            ("C1", "supervised", 0.3, "supported"),
            ("C2", "supervised, worst_case", 0.0, "contradicted"),
            ("C5", "downstream after supervised pre-training, worst_case", 0.0, "inconclusive"),
            ("C6-digits", "digits", 0.2, "supported")],
        "budget=0.1,attack=pgd10,threshold=unit": [
            ("C1", "supervised", 0.01, "inconclusive"),
            ("C2", "supervised, worst_case", 0.3, "supported"),
            ("C5", "downstream after supervised pre-training, worst_case", 0.2, "supported")],
    }
    paths, points = [], []
    for name, rows in tables.items():
        paths.append(str(tmp_path / f"{len(paths)}.csv"))
        frame = _claims(rows)
        frame["criterion_estimate"] = [0.3 + 0.1 * index for index in range(len(frame))]
        frame["criterion_low"], frame["criterion_high"] = frame["criterion_estimate"] - 0.05, 0.9
        frame.to_csv(paths[-1], index=False)
        levels = dict(part.split("=") for part in name.split(","))
        points.append({"name": name, "levels": levels, "changes": {"x.y": 1},
                       "budget": float(levels["budget"]), "norm": "l2"})
    settings = {"factors": ["budget", "attack", "threshold"], "points": points,
                "study": {"simulation.eps_sweep.values": []}, "excluded_claims": ["C6"],
                "variants": ["clean", "fgm_l2", "ideal"]}
    inputs = {"points": paths, **_point_measures(tmp_path, points)}
    outputs = {name: str(tmp_path / f"out_{name}") for name in ("verdicts", "csv", "md",
                                                                  "measures")}
    mechanism_table(settings, inputs, outputs)
    summary = pd.read_csv(outputs["csv"]).set_index("claim")
    assert list(summary.index) == ["C1", "C2", "C5"]
    assert summary.loc["C2", "restored_at"] == "budget=0.1,attack=pgd10,threshold=unit"
    assert summary.loc["C2", "not_restored_at"] == ("budget=0.2,attack=fgm,threshold=absolute "
                                                    "(contradicted)")
    assert summary.loc["C1", "budget=0.1,attack=pgd10,threshold=unit"] == "inconclusive"
    page = (tmp_path / "out_md").read_text()
    assert "| C2 | supervised, worst_case |" in page
    assert "| P2 (1 of 2) | P1 (contradicted) |" in page
    assert "| P1 | budget=0.2,attack=fgm,threshold=absolute | 0.2 | fgm | absolute | 0.2 |" in page
    verdicts = pd.read_csv(outputs["verdicts"])
    assert set(verdicts["budget"]) == {0.1, 0.2} and "criterion_estimate" in verdicts
    assert set(verdicts["levels"]) == {"budget=0.2; attack=fgm; threshold=absolute",
                                       "budget=0.1; attack=pgd10; threshold=unit"}
    measures = pd.read_csv(outputs["measures"])
    assert len(measures) == 2 * 2 * 3  # points x tasks x shown variants
    clean = measures.set_index(["point", "task", "variant"]).loc[
        ("budget=0.1,attack=pgd10,threshold=unit", "supervised", "clean")]
    assert clean["row_norm_median"] == pytest.approx(2.0)  # the mean over its two seeds
    assert clean["head_weight_impure"] == pytest.approx(0.25)
    assert clean["downstream_worst_case"] == pytest.approx(0.4)  # at the point's budget only
    assert pd.isna(measures.set_index(["task", "variant"]).loc[
        ("contrastive", "clean"), "lit_absent_share"]).all()  # supervised nets only
    assert "| P2 | supervised | clean | 0.500 | 2.000 |" in page
    config = _with_factors(paper_config, points=list(tables))
    figure = figure_settings(config, "mechanism")
    assert figure["columns"] == ["attack"] and figure["rows"] == ["threshold"]
    plot_mechanism({"verdicts": [outputs["verdicts"]]}, figure, tmp_path / "mechanism")
    assert all((tmp_path / f"mechanism.{ext}").stat().st_size > 1000 for ext in ("pdf", "png"))
    reach = figure_settings(config, "mechanism_reach")
    assert reach["budgets"] == {name: float(name.split(",")[0][len("budget="):])
                                for name in tables}
    plot_mechanism_reach({"measures": [outputs["measures"]]}, reach, tmp_path / "reach")
    assert all((tmp_path / f"reach.{ext}").stat().st_size > 1000 for ext in ("pdf", "png"))


def _point_measures(folder, points):
    """Each point's node summaries (long: a row per network and measure) and downstream tables
    (a row per network, attack and budget): the clean nets' rows of norm 1 and 3 (seeds 0, 1),
    purity 0.5; the heads' worst case 0.4 at the point's budget, 0.1 at twice it."""
    inputs = {}
    for task in ("supervised", "contrastive"):
        summaries, heads = [], []
        for index, point in enumerate(points):
            measures = {"purity_all": 0.5, "effective_threshold_median": 0.15,
                        "reachable_share": 0.6}
            if task == "supervised":
                measures |= {"lit_absent_share": 0.7, "moved_present_share": 0.2}
            summary = pd.DataFrame(
                [{"task": task, "activation": "gate", "variant": variant, "seed": seed,
                  "measure": measure, "value": value}
                 for variant in ("clean", "fgm_l2", "ideal", "untrained") for seed in (0, 1)
                 for measure, value in {**measures, "row_norm_median": 1.0 + 2 * seed,
                                        "live_share": 0.9}.items()])
            head = pd.DataFrame(
                [{"task": task, "activation": "gate", "variant": variant, "seed": seed,
                  "attack": attack, "norm": "l2", "eps": eps, "accuracy": accuracy,
                  "mean_purity": 0.5, "head_weight_impure": 0.25, "head_weight_unused": 0.1}
                 for variant in ("clean", "fgm_l2", "ideal") for seed in (0, 1)
                 for attack, eps, accuracy in (("worst_case", point["budget"], 0.4),
                                               ("worst_case", 2 * point["budget"], 0.1),
                                               ("pgd", point["budget"], 0.6))])
            summaries.append(str(folder / f"{task}_summary_{index}.csv"))
            heads.append(str(folder / f"{task}_downstream_{index}.csv"))
            summary.to_csv(summaries[-1], index=False)
            head.to_csv(heads[-1], index=False)
        inputs[f"{task}_summary"], inputs[f"{task}_downstream"] = summaries, heads
    return inputs
