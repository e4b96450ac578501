"""The claims logic on hand-made frames whose answers are known."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from advpretrain import claims, settings
from advpretrain.config import validate_config

REPO = Path(__file__).resolve().parent.parent
SEEDS = range(5)
REFERENCE = {"attack": "pgd", "norm": "l2", "eps": 0.5}


@pytest.fixture()
def config():
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["simulation"]["evaluation"]["reference_attack"] = dict(REFERENCE)
    config["claims"]["resamples"] = 2000
    return settings.claims(validate_config(config))


def summary(task, clean, adversarial):
    rows = [{"task": task, "activation": "gate", "variant": variant, "train_norm": "l2",
             "train_eps": eps, "seed": seed, "measure": "purity", "value": value + 0.01 * seed}
            for variant, eps, value in (("clean", 0.0, clean), ("fgm_l2", 0.5, adversarial))
            for seed in SEEDS]
    return pd.DataFrame(rows)


def robustness(clean_acc, adversarial_acc, task="supervised", natural=0.95):
    rows = []
    for variant, attacked in (("clean", clean_acc), ("fgm_l2", adversarial_acc)):
        for seed in SEEDS:
            for eps, accuracy in ((0.0, natural), (0.5, attacked + 0.01 * (seed - 2))):
                rows.append({"task": task, "activation": "gate", "variant": variant,
                             "train_norm": "l2", "train_eps": 0.0, "seed": seed, "attack": "pgd",
                             "norm": "l2", "eps": eps, "accuracy": accuracy, "loss": 0.1})
    return pd.DataFrame(rows)


def pair_loss(clean_increase, adversarial_increase):
    rows = []
    for variant, increase in (("clean", clean_increase), ("fgm_l2", adversarial_increase)):
        for seed in SEEDS:
            for pair_type in ("similar", "dissimilar"):
                for eps in (0.0, 0.5):
                    loss = 0.3 + (increase[pair_type] * (1 + 0.05 * seed) if eps else 0.0)
                    rows.append({"task": "contrastive", "activation": "gate", "variant": variant,
                                 "train_norm": "l2", "train_eps": 0.0, "seed": seed,
                                 "attack": "pgd", "norm": "l2", "eps": eps,
                                 "pair_type": pair_type, "loss": loss, "accuracy": 0.9})
    return pd.DataFrame(rows)


def write(tmp_path, name, frame):
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    return [str(path)]


def inputs(tmp_path, **frames):
    return {name: write(tmp_path, name, frame) for name, frame in frames.items()}


def row(table, claim, scope=None):
    rows = table[(table["claim"] == claim)
                 & (table["scope"] == scope if scope else table["scope"].notna())]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_bootstrap_interval_known_answers():
    mean, low, high = claims.bootstrap_interval([0.3] * 5, 1000, 0.95, seed=1)
    assert (mean, low, high) == (pytest.approx(0.3),) * 3
    mean, low, high = claims.bootstrap_interval([0.0, 1.0], 4000, 0.95, seed=1)
    assert mean == 0.5 and low == 0.0 and high == 1.0
    values = np.arange(10.0)
    mean, low, high = claims.bootstrap_interval(values, 4000, 0.95, seed=2)
    assert mean == 4.5 and 2.5 < low < 4.5 < high < 6.5
    assert claims.bootstrap_interval(values, 500, 0.95, 3) == claims.bootstrap_interval(
        values, 500, 0.95, 3)  # a fixed seed gives the same interval


def test_verdict_needs_the_whole_interval_above_the_threshold():
    assert claims.verdict(0.11, 0.1) == claims.SUPPORTED
    assert claims.verdict(0.09, 0.1) == claims.NOT_SUPPORTED
    assert claims.verdict(np.nan, 0.1) == claims.NOT_EVALUATED


def test_paper_like_run_supports_every_claim(tmp_path, config):
    table = claims.claims_table(config, inputs(
        tmp_path,
        supervised_summary=summary("supervised", 0.46, 0.76),
        supervised_robustness=robustness(0.07, 0.45),
        contrastive_summary=summary("contrastive", 0.4, 0.7),
        pair_loss=pair_loss({"similar": 0.02, "dissimilar": 0.4},
                            {"similar": 0.01, "dissimilar": 0.02}),
        downstream_supervised=robustness(0.12, 0.47),
        downstream_contrastive=robustness(0.2, 0.5, task="contrastive"),
    ))
    c1 = row(table, "C1")
    assert c1["estimate"] == pytest.approx(0.30)
    assert c1["ci_low"] == pytest.approx(0.30) and c1["n_seeds"] == 5
    assert row(table, "C2", "supervised")["estimate"] == pytest.approx(0.38)
    assert row(table, "C2", "supervised, clean nets")["estimate"] == pytest.approx(0.88)
    c4 = row(table, "C4", "contrastive")
    assert c4["estimate"] == pytest.approx(0.38 * 1.1)  # (0.4 - 0.02) times mean(1 + 0.05 s)
    assert row(table, "C5", "downstream after supervised pre-training")["estimate"] == \
        pytest.approx(0.35)
    evaluated = table[table["claim"] != "C6"]
    assert (evaluated["verdict"] == claims.SUPPORTED).all(), evaluated
    assert row(table, "C6")["verdict"] == claims.NOT_EVALUATED


def test_claim_without_effect_is_not_supported(tmp_path, config):
    """Clean and adversarial pre-training equally robust downstream: C5 must fail, C1 hold."""
    downstream = robustness(0.3, 0.3)
    noise = np.random.default_rng(0).normal(0, 0.05, len(downstream))
    downstream["accuracy"] = downstream["accuracy"] + np.where(downstream["eps"] > 0, noise, 0)
    table = claims.claims_table(config, inputs(
        tmp_path, supervised_summary=summary("supervised", 0.46, 0.76),
        supervised_robustness=robustness(0.07, 0.45), downstream_supervised=downstream))
    c5 = row(table, "C5")
    assert c5["verdict"] == claims.NOT_SUPPORTED
    assert c5["ci_low"] < config["claims"]["thresholds"]["C5"]
    assert row(table, "C1")["verdict"] == claims.SUPPORTED
    # missing inputs are reported, not silently dropped
    assert row(table, "C3")["verdict"] == claims.NOT_EVALUATED
    assert (table.loc[table["claim"] == "C4", "verdict"] == claims.NOT_EVALUATED).all()


def test_reversed_contrastive_pairs_are_not_supported(tmp_path, config):
    """Similar pairs hurt more than dissimilar ones: C4 must come out not supported."""
    table = claims.claims_table(config, inputs(
        tmp_path, supervised_summary=summary("supervised", 0.46, 0.76),
        supervised_robustness=robustness(0.07, 0.45),
        contrastive_summary=summary("contrastive", 0.5, 0.5),
        pair_loss=pair_loss({"similar": 0.4, "dissimilar": 0.02},
                            {"similar": 0.4, "dissimilar": 0.02}),
        downstream_supervised=robustness(0.12, 0.47)))
    assert row(table, "C4", "contrastive")["estimate"] < 0
    assert row(table, "C4", "contrastive")["verdict"] == claims.NOT_SUPPORTED
    assert row(table, "C3")["verdict"] == claims.NOT_SUPPORTED  # no purity gain


def test_cifar_claim_from_the_branch_table(tmp_path, config):
    cifar = pd.DataFrame({
        "variant": ["supervised_clean", "supervised_adversarial", "contrastive_clean",
                    "contrastive_adversarial"],
        "task": ["supervised", "supervised", "contrastive", "contrastive"],
        "adversarial_pretraining": [False, True, False, True],
        "clean_accuracy": [0.94, 0.82, 0.9, 0.78], "pgd_accuracy": [0.0, 0.48, 0.0, 0.05]})
    table = claims.claims_table(config, inputs(
        tmp_path, supervised_summary=summary("supervised", 0.46, 0.76),
        supervised_robustness=robustness(0.07, 0.45), downstream_supervised=robustness(0.1, 0.4),
        cifar_table=cifar))
    supervised = row(table, "C6", "CIFAR-10 supervised")
    assert supervised["estimate"] == pytest.approx(0.48) and supervised["n_seeds"] == 1
    assert supervised["verdict"] == claims.SUPPORTED
    assert row(table, "C6", "CIFAR-10 contrastive")["verdict"] == claims.NOT_SUPPORTED


def test_markdown_lists_every_row(tmp_path, config):
    table = claims.claims_table(config, inputs(
        tmp_path, supervised_summary=summary("supervised", 0.46, 0.76),
        supervised_robustness=robustness(0.07, 0.45), downstream_supervised=robustness(0.1, 0.4)))
    text = claims.markdown(table, config["claims"])
    assert text.count("\n| C") == len(table)
    assert "**supported**" in text and "not evaluated" in text
