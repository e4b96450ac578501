"""The sensitivity study: its points, their configs, the table of their verdicts and its figures."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml
from conftest import REPO

from advpretrain.claims.sensitivity import sensitivity_table
from advpretrain.figures.sensitivity import plot_sensitivity_effects, plot_sensitivity_map
from advpretrain.workflow import params
from advpretrain.workflow.config import ConfigError, validate_config
from advpretrain.workflow.figures import PAPER, SENSITIVITY, exported
from advpretrain.workflow.sensitivity import CENTRE, point_config, study_points


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
    validate_config(config)
    assert study_points(config) == {CENTRE: {}}


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


def test_the_paper_and_the_study_export_their_own_figures():
    assert {"sensitivity_map", "sensitivity_effects"} == set(exported(SENSITIVITY))
    assert not set(exported(PAPER)) & set(exported(SENSITIVITY))


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
