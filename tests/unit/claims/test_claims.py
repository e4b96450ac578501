"""The claims logic on hand-made tables whose answers are known, and on their controls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from scipy import stats

from advpretrain.claims.claims import claims_table
from advpretrain.claims.markdown import answers_rst, claim_answers, claims_html, claims_markdown
from advpretrain.claims.simulation import pair_gaps
from advpretrain.claims.table import (
    CONTRADICTED,
    DESCRIPTIVE,
    HOLDS_FOR_IDEAL,
    INCONCLUSIVE,
    INDICATIVE,
    NOT_EVALUATED,
    SUPPORTED,
    UNTESTABLE,
    Table,
    excess,
    margins,
    verdict,
)
from advpretrain.core.statistics import detectable_effect, holm, p_greater, power, t_interval
from advpretrain.workflow import params as settings
from advpretrain.workflow.config import validate_config

SEEDS = range(5)
VARIANTS = ("clean", "fgm_l2", "clean_twin", "untrained", "ideal")
# The known answer: the frozen perfectly purified layer (purity 1, every feature covered, robust
# and certified so at the reference budget, no pair asymmetry, nodes that an attack cannot flip).
IDEAL = {"purity": 1.0, "attacked": 0.9, "certified": 0.8, "gap": 0.0, "moved": 0.02}


@pytest.fixture()
def config():
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["simulation"]["evaluation"]["reference_attack"] = {"attack": "pgd", "norm": "l2",
                                                              "eps": 0.5}
    config["claims"]["attacks"] = ["worst_case", "certified", "pgd"]
    return settings.claims(validate_config(config))


def noise(seed, scale=0.01):
    """A fixed, seed-dependent wobble, so that intervals have a width."""
    return scale * np.sin(1.7 * seed + 0.3)


def summary(task, purity):
    """Long-format node summaries: purity per variant, plus the share measures."""
    rows = []
    for variant in VARIANTS:
        for seed in SEEDS:
            value = purity[variant] + noise(seed)
            for measure, number in (("purity_all", value), ("purity", min(1.0, value + 0.05)),
                                    ("functional_purity", value - 0.1),
                                    ("pure_share", value / 2),
                                    ("coverage", min(1.0, value + 0.2)),
                                    ("live_share", 0.9)):
                rows.append({"task": task, "activation": "gate", "variant": variant,
                             "seed": seed, "measure": measure, "value": number})
    return pd.DataFrame(rows)


def robustness(attacked, task="supervised", natural=0.95, certified=None):
    """The paper's PGD and the ensemble's worst case at ``attacked`` (the same numbers), and a
    certified bound at ``certified[variant]`` (default: the ideal's, 0 for the others)."""
    certified = {"ideal": IDEAL["certified"], **(certified or {})}
    rows = []
    for variant in VARIANTS:
        for seed in SEEDS:
            cells = [("pgd", 0.0, natural), ("pgd", 0.5, attacked[variant] + noise(seed)),
                     ("worst_case", 0.5, attacked[variant] + noise(seed)),
                     ("certified", 0.5, certified.get(variant, 0.0))]
            for attack, eps, accuracy in cells:
                rows.append({"task": task, "activation": "gate", "variant": variant,
                             "seed": seed, "attack": attack, "norm": "l2", "eps": eps,
                             "accuracy": accuracy})
    return pd.DataFrame(rows)


def pair_loss(gaps, accuracy=None, similar_loss=0.3, dissimilar_loss=0.3):
    """Pair accuracies and losses under the paper's PGD and the worst case (from their eps-0
    rows): the attack flips 0.02 of the similar pairs and 0.02 + gap[variant] of the dissimilar
    ones (the accuracy drop; ties-half accuracy on the worst case's rows), and raises each pair
    type's loss by as much; ``accuracy[(variant, pair_type)]``: clean pair accuracy (default
    0.9); the clean losses set each pair type's operating point."""
    accuracy = accuracy or {}
    rows = []
    for variant in VARIANTS:
        for seed in SEEDS:
            for pair_type, drop, loss in (
                    ("similar", 0.02, similar_loss),
                    ("dissimilar", 0.02 + gaps[variant] + noise(seed), dissimilar_loss)):
                clean = accuracy.get((variant, pair_type), 0.9)
                for attack, eps in (("pgd", 0.0), ("pgd", 0.5), ("worst_case", 0.0),
                                    ("worst_case", 0.5)):
                    value = clean - (drop if eps else 0.0)
                    rows.append({"task": "contrastive", "variant": variant, "seed": seed,
                                 "attack": attack, "norm": "l2", "eps": eps,
                                 "pair_type": pair_type, "accuracy": value,
                                 "accuracy_ties_half": value if attack == "worst_case"
                                 else np.nan,
                                 "loss": loss + (drop if eps else 0.0)})
    return pd.DataFrame(rows)


def movement(relative):
    return pd.DataFrame([{"variant": variant, "seed": seed, "norm": "l2", "eps": 0.5,
                          "relative_movement": relative[variant] + noise(seed),
                          "flip_share": relative[variant] / 2}
                         for variant in VARIANTS for seed in SEEDS])


def pair_attack(purity_by_pairs, clean=0.4, twin=0.4):
    rows = [{"variant": "fgm_l2", "attacked_pairs": pairs, "seed": seed, "measure": measure,
             "value": value + noise(seed)}
            for pairs, purity in purity_by_pairs.items() for seed in SEEDS
            for measure, value in (("purity", purity), ("coverage", min(1.0, purity + 0.2)))]
    rows += [{"variant": variant, "attacked_pairs": "none", "seed": seed, "measure": "purity",
              "value": value + noise(seed)}
             for variant, value in (("clean", clean), ("clean_twin", twin)) for seed in SEEDS]
    return pd.DataFrame(rows)


def inputs(tmp_path, **frames):
    paths = {}
    for name, frame in frames.items():
        paths[name] = [str(tmp_path / f"{name}.csv")]
        frame.to_csv(paths[name][0], index=False)
    return paths


def paper_like(tmp_path, adversarial_effect=True, converged=True):
    """Tables with the paper's effects (or, without, the adversarial variant = clean), the
    ideal's known answers, and (``converged``) a convergence study that agrees with the
    ensemble."""
    def effect(clean, adversarial):
        return adversarial if adversarial_effect else clean

    purity = {"clean": 0.45, "fgm_l2": effect(0.45, 0.76), "clean_twin": 0.452,
              "untrained": 0.3, "ideal": IDEAL["purity"]}
    attacked = {"clean": 0.07, "fgm_l2": effect(0.07, 0.65), "clean_twin": 0.072,
                "untrained": 0.5, "ideal": IDEAL["attacked"]}
    gaps = {"clean": 0.4, "fgm_l2": effect(0.4, 0.02), "clean_twin": 0.39, "untrained": 0.05,
            "ideal": IDEAL["gap"]}
    by_pairs = {"all": effect(0.4, 0.76), "similar": effect(0.4, 0.5),
                "dissimilar": effect(0.4, 0.68)}
    moved = {"clean": 0.8, "fgm_l2": effect(0.8, 0.3), "clean_twin": 0.79, "untrained": 0.9,
             "ideal": IDEAL["moved"]}
    heads = {"fgm_l2": effect(0.0, 0.6)}  # the adversarial layer's heads certified robust
    files = inputs(
        tmp_path, supervised_summary=summary("supervised", purity),
        supervised_robustness=robustness(attacked), supervised_movement=movement(moved),
        contrastive_summary=summary(
            "contrastive", purity), pair_loss=pair_loss(gaps), pair_attack=pair_attack(by_pairs),
        downstream_supervised=robustness(attacked, certified=heads),
        downstream_contrastive=robustness(attacked, task="contrastive", certified=heads))
    if converged:
        files.update(inputs(tmp_path, supervised_convergence=convergence(attacked, attacked)))
    return files


def row(table, claim, scope):
    rows = table[(table["claim"] == claim) & (table["scope"] == scope)]
    assert len(rows) == 1, (claim, scope, table[["claim", "scope"]])
    return rows.iloc[0]


def test_t_interval_and_p_value_known_answers():
    mean, low, high = t_interval([1.0, 2.0, 3.0], 0.95)
    half = stats.t.ppf(0.975, 2) / np.sqrt(3)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert np.isnan(t_interval([1.0], 0.95)[1])
    assert p_greater([0.3, 0.3, 0.3]) == 0.0 and p_greater([0.0, 0.0]) == 1.0
    assert p_greater([-1.0, 1.0, 0.0]) == pytest.approx(0.5)


def test_t_interval_keeps_its_promise_with_five_seeds():
    rng = np.random.default_rng(0)
    covered = [low <= 0.0 <= high for low, high in
               (t_interval(rng.normal(0, 1, 5), 0.95)[1:] for _ in range(4000))]
    assert np.mean(covered) == pytest.approx(0.95, abs=0.01)


def test_holm_steps_down():
    assert holm([0.01, 0.04, 0.03], 0.05).tolist() == [True, False, False]
    assert holm([0.01, 0.02, 0.03], 0.05).tolist() == [True, True, True]
    assert holm([0.2, 0.001], 0.05).tolist() == [False, True]


def test_excess_subtracts_the_twin_difference():
    table = pd.DataFrame({"clean": [0.4, 0.5], "adv": [0.7, 0.8], "twin": [0.5, 0.45]})
    assert excess(table, "adv", "clean", "clean", "twin").tolist() == pytest.approx(
        [0.2, 0.25])


def deciding(table):
    return table[~table["claim"].str.startswith("C6")
                 & ~table["verdict"].isin([DESCRIPTIVE, NOT_EVALUATED])]


# Rows the one convergence rule keeps from support where the attack's convergence is not
# measured (the pair losses, the downstream heads): inconclusive whatever their effect.
UNCONVERGED_SCOPES = ("contrastive, worst_case", "contrastive, worst_case, adversarial",
                      "downstream after supervised pre-training, worst_case",
                      "downstream after contrastive pre-training, worst_case")


def test_paper_like_run_supports_every_deciding_row(tmp_path, config):
    table = claims_table(config, paper_like(tmp_path))
    rows = deciding(table)
    blocked = rows["scope"].isin(UNCONVERGED_SCOPES)
    assert len(rows) >= 14 and (rows.loc[~blocked, "verdict"] == SUPPORTED).all(), rows[
        ["scope", "verdict", "reason"]]
    assert (rows.loc[blocked, "verdict"] == INCONCLUSIVE).all()
    assert rows.loc[blocked, "reason"].str.contains("convergence is not measured").all()
    assert rows["known_answer"].str.startswith(("ideal: ", "no known answer")).all()
    c1 = row(table, "C1", "supervised")
    assert c1["estimate"] == pytest.approx(0.76 - 0.45 - 0.002, abs=1e-9)
    assert c1["n_seeds"] == 5 and c1["ci_low"] < c1["estimate"] < c1["ci_high"]
    assert c1["criterion_estimate"] == pytest.approx(0.96 - 0.9, abs=0.01)  # coverage binds
    assert row(table, "C6", "CIFAR-10")["verdict"] == NOT_EVALUATED
    share = row(table, "C4", "contrastive, worst_case, adversarial")
    assert share["estimate"] == pytest.approx((1 - 0.02 / 0.4) - (1 - 0.39 / 0.4), abs=0.01)
    bounds = row(table, "C5", "downstream after supervised pre-training, certified vs worst case")
    assert bounds["verdict"] == SUPPORTED and bounds["estimate"] == pytest.approx(0.6 - 0.07,
                                                                                 abs=0.01)


def test_the_paper_attack_and_vacuous_bounds_are_descriptive(tmp_path, config):
    table = claims_table(config, paper_like(tmp_path))
    for scope in ("supervised, pgd", "supervised, certified", "contrastive, pgd",
                  "downstream after supervised pre-training, pgd"):
        assert row(table, "C2" if scope.startswith("supervised") else
                   "C4" if scope.startswith("contrastive") else "C5", scope)["verdict"] == \
            DESCRIPTIVE, scope
    assert not (table["scope"] == "supervised, certified vs worst case").any()


def test_informative_certified_bounds_decide_and_compare_bounds(tmp_path, config):
    files = paper_like(tmp_path)
    frame = pd.read_csv(files["supervised_robustness"][0])
    sure = (frame["attack"] == "certified") & (frame["variant"] != "clean")
    frame.loc[sure & (frame["variant"] == "fgm_l2"), "accuracy"] = 0.6
    frame.to_csv(files["supervised_robustness"][0], index=False)
    table = claims_table(config, files)
    assert row(table, "C2", "supervised, certified")["verdict"] == SUPPORTED
    rigorous = row(table, "C2", "supervised, certified vs worst case")
    assert rigorous["estimate"] == pytest.approx(0.6 - 0.07, abs=0.01)
    assert rigorous["verdict"] == SUPPORTED


def test_without_an_effect_no_effect_row_is_supported(tmp_path, config):
    """The negative control: the adversarial variant trained like the clean one. Only rows the
    control leaves alone may hold: C1's non-inferiority (the same nets are as accurate), C2's
    "the clean nets' nodes flip" and C5's "the clean layer's head is not robust"; every effect
    row is contradicted or inconclusive, none robust/most/mainly holds."""
    table = claims_table(config, paper_like(tmp_path, adversarial_effect=False))
    kept = {("C1", "supervised, clean accuracy"), ("C2", "supervised, nodes moved"),
            ("C5", "downstream after supervised pre-training, worst_case, clean layer"),
            ("C5", "downstream after contrastive pre-training, worst_case, clean layer")}
    for item in deciding(table).itertuples():
        if (item.claim, item.scope) in kept:
            assert item.verdict == SUPPORTED, (item.claim, item.scope, item.reason)
        else:
            assert item.verdict in (CONTRADICTED, INCONCLUSIVE), (item.claim, item.scope)
    assert row(table, "C1", "supervised")["verdict"] == CONTRADICTED
    assert row(table, "C2", "supervised, worst_case")["verdict"] == CONTRADICTED


def test_a_difference_within_the_twin_spread_is_not_an_effect(tmp_path, config):
    files = paper_like(tmp_path)
    frame = pd.read_csv(files["supervised_summary"][0])
    twin = (frame["variant"] == "clean_twin") & (frame["measure"] == "purity_all")
    frame.loc[twin, "value"] += 0.5  # clean-to-clean differences as large as the effect
    frame.to_csv(files["supervised_summary"][0], index=False)
    c1 = row(claims_table(config, files), "C1", "supervised")
    # Not an effect, and not a contradiction either (D + |C| is far above 0.05): the ideal
    # itself cannot clear so wide a control, so the rule cannot test the statement here.
    assert c1["verdict"] == UNTESTABLE and "(the rule alone: inconclusive)" in c1["reason"]


def test_robust_needs_its_absolute_criterion(tmp_path, config):
    """An effect far above the smallest one, but a robust accuracy below 0.5: not robust."""
    files = paper_like(tmp_path)
    frame = pd.read_csv(files["supervised_robustness"][0])
    frame.loc[(frame["variant"] == "fgm_l2") & (frame["eps"] == 0.5), "accuracy"] = 0.3
    frame.to_csv(files["supervised_robustness"][0], index=False)
    worst = row(claims_table(config, files), "C2", "supervised, worst_case")
    assert worst["estimate"] > 0.2 and worst["verdict"] == CONTRADICTED
    assert "is shown to fail" in worst["reason"]


def test_a_degenerate_contrastive_net_cannot_close_the_gap(tmp_path, config):
    """A planted near-constant representation: the adversarial net says "similar" to every
    pair (dissimilar accuracy 0.1) and its attacked losses hardly move: it "closes" the whole
    gap, but its balanced pair accuracy (0.5) fails the guard."""
    gaps = {"clean": 0.4, "fgm_l2": 0.0, "clean_twin": 0.39, "untrained": 0.05, "ideal": 0.0}
    files = {**paper_like(tmp_path), **inputs(tmp_path, pair_loss=pair_loss(
        gaps, accuracy={("fgm_l2", "dissimilar"): 0.1}))}
    closes = row(claims_table(config, files), "C4", "contrastive, worst_case, adversarial")
    assert closes["estimate"] > 0.9 and closes["verdict"] == INCONCLUSIVE
    assert "balanced clean pair accuracy" in closes["reason"]


def test_no_gap_no_closing(tmp_path, config):
    """Where the clean nets' attacks hurt similar pairs more (a negative gap), a variant that
    "closes" it is closing nothing: the share row cannot be supported, and says why."""
    gaps = {"clean": -0.4, "fgm_l2": -0.01, "clean_twin": -0.39, "untrained": 0.05,
            "ideal": 0.0}
    files = {**paper_like(tmp_path), **inputs(tmp_path, pair_loss=pair_loss(gaps))}
    table = claims_table(config, files)
    assert row(table, "C4", "contrastive, worst_case")["verdict"] != SUPPORTED
    closes = row(table, "C4", "contrastive, worst_case, adversarial")
    assert closes["verdict"] != SUPPORTED and "no gap to close" in closes["reason"]


def test_mainly_needs_a_purification_to_apportion(tmp_path, config):
    """The near-null control at the paper's sizes: attacking all pairs raises purity by 0.1 (a
    gain above the guard) without purifying (0.5 < C3's criterion), and the dissimilar pairs
    carry most of that gain. The "mainly" row cannot be supported on it, and says why."""
    by_pairs = {"all": 0.5, "similar": 0.41, "dissimilar": 0.49}
    files = {**paper_like(tmp_path), **inputs(tmp_path, pair_attack=pair_attack(by_pairs))}
    mainly = row(claims_table(config, files), "C4", "contrastive, pair-attack study")
    assert mainly["estimate"] > 0.8 and mainly["verdict"] == INCONCLUSIVE
    assert "no purification to apportion" in mainly["reason"]


def test_verdict_rule_three_ways():
    base = {"smallest_effect": 0.05, "_threshold": np.nan, "criterion": "", "_guard": None,
            "criterion_low": np.nan, "criterion_high": np.nan}
    assert verdict({**base, "ci_low": 0.1, "ci_high": 0.2}, True)[0] == SUPPORTED
    # Contradiction is Holm's (over the reverse tests), not an interval's: a row whose interval
    # lies below the smallest effect is contradicted only where Holm rejects for it.
    assert verdict({**base, "ci_low": -0.1, "ci_high": 0.04}, False, True)[0] == CONTRADICTED
    assert verdict({**base, "ci_low": -0.1, "ci_high": 0.04}, False, False)[0] == INCONCLUSIVE
    assert verdict({**base, "ci_low": 0.0, "ci_high": 0.2}, False)[0] == INCONCLUSIVE
    guarded = verdict({**base, "ci_low": 0.1, "ci_high": 0.2, "_guard": "degenerate"}, True)
    assert guarded == (INCONCLUSIVE, "degenerate")
    undecided = {**base, "ci_low": 0.1, "ci_high": 0.2, "_threshold": 0.5, "criterion": "x",
                 "criterion_low": 0.45, "criterion_high": 0.6}
    assert verdict(undecided, True)[0] == INCONCLUSIVE
    unconverged = {**base, "ci_low": 0.1, "ci_high": 0.2, "_unconverged": "not converged"}
    assert verdict(unconverged, True) == (INCONCLUSIVE, "not converged")


def test_the_control_counts_against_either_verdict():
    """Support tests D - |C|, contradiction D + |C|: an effect within the twin's spread of the
    smallest effect is neither supported nor contradicted."""
    table = pd.DataFrame({"clean": [0.4, 0.5], "adv": [0.7, 0.8], "twin": [0.5, 0.45]})
    support, against = margins(table, "adv", "clean", "clean", "twin")
    assert support.tolist() == pytest.approx([0.2, 0.25])
    assert against.tolist() == pytest.approx([0.4, 0.35])
    rows = Table({"confidence": 0.95, "family_alpha": 0.05})
    effect = pd.Series([0.03, 0.031, 0.029, 0.03, 0.032])
    control = pd.Series([0.05, 0.05, 0.05, 0.05, 0.05])
    rows.add("C", "within the control", "s", "x", "twin", effect - control,
             contra=effect + control, evidence="measured", smallest_effect=0.05)
    assert rows.frame()["verdict"].iloc[0] == INCONCLUSIVE


def test_contradiction_is_multiplicity_controlled():
    """Ten rows each a little below their smallest effect (one-sided p about 0.01): each
    interval lies below it, but Holm over ten reverse tests (level 0.005 at its first step)
    contradicts none; one row far below is contradicted."""
    rows = Table({"confidence": 0.95, "family_alpha": 0.05})
    spread = 0.01 * np.array([-1.26, -0.63, 0.0, 0.63, 1.26])
    for k in range(10):
        values = pd.Series(0.05 - 0.0155 + spread)
        rows.add("C", f"near {k}", "s", "x", "none", values, evidence="measured",
                 smallest_effect=0.05)
    rows.add("C", "far", "s", "x", "none", pd.Series([-0.5, -0.49, -0.51, -0.5, -0.5]),
             evidence="measured", smallest_effect=0.05)
    frame = rows.frame()
    near = frame[frame["scope"].str.startswith("near")]
    assert (near["ci_high"] < 0.05).any(), near[["ci_high", "p_contra"]]
    assert (near["verdict"] == INCONCLUSIVE).all(), near[["p_contra", "verdict"]]
    assert frame.set_index("scope").loc["far", "verdict"] == CONTRADICTED


def test_power_statement_known_answers():
    # 5 seeds, 26 rows at 0.05: t_{4}(1 - 0.05/26) / sqrt(5)
    assert detectable_effect(5, 26, 0.05) == pytest.approx(
        stats.t.ppf(1 - 0.05 / 26, 4) / np.sqrt(5))
    assert 0 < power(5, 26, 0.05, 2.0) < power(5, 26, 0.05, 4.0) < 1


def image_per_seed(seeds, gain):
    """A real-image per-seed table: supervised variants, the adversarial one ``gain`` more
    robust (AutoAttack and PGD) than the clean one on every seed, with a seed wobble."""
    rows = []
    for seed in range(seeds):
        for variant, adversarial in (("supervised_clean", False),
                                     ("supervised_adversarial", True)):
            robust = 0.05 + (gain if adversarial else 0.0) + noise(seed)
            rows.append({"dataset": "digits", "downstream_task": "classes", "variant": variant,
                         "pretraining_task": "supervised", "adversarial": adversarial,
                         "seed": seed, "clean_accuracy": 0.95, "pgd_accuracy": robust + 0.01,
                         "autoattack_accuracy": robust})
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("seeds", "gain", "expected"), [
    (5, 0.3, SUPPORTED), (5, 0.0, CONTRADICTED), (1, 0.3, INDICATIVE)])
def test_image_rows_are_paired_by_seed(tmp_path, config, seeds, gain, expected):
    files = {**paper_like(tmp_path), **inputs(tmp_path, images_digits=image_per_seed(seeds,
                                                                                     gain))}
    table = claims_table(config, files)
    decides = row(table, "C6-digits", "digits classes, supervised, AutoAttack and PGD-20, "
                                      "per image")
    assert decides["verdict"] == expected and decides["n_seeds"] == seeds
    assert decides["estimate"] == pytest.approx(gain, abs=1e-9)
    shown = row(table, "C6-digits", "digits classes, supervised, PGD-20")
    assert shown["verdict"] == DESCRIPTIVE


def test_image_branch_off_says_why(tmp_path, config):
    config = {**config, "images": {**config["images"], "cifar10": "no GPU visible: run it"}}
    c6 = row(claims_table(config, paper_like(tmp_path)), "C6", "CIFAR-10")
    assert c6["verdict"] == NOT_EVALUATED and c6["reason"] == "no GPU visible: run it"


def test_missing_inputs_are_reported_not_dropped(tmp_path, config):
    files = paper_like(tmp_path)
    del files["pair_loss"], files["pair_attack"], files["contrastive_summary"]
    table = claims_table(config, files)
    assert (table.loc[table["claim"].isin(["C3", "C4"]), "verdict"]
            == NOT_EVALUATED).all()


def test_markdown_lists_every_row(tmp_path, config):
    table = claims_table(config, paper_like(tmp_path))
    text = claims_markdown(table, config["claims"])
    answers, rows = text.split("\n## The table\n")
    assert rows.count("\n| C") + rows.count("\n| control+ |") == len(table)
    assert "## The answer, claim by claim" in answers
    assert answers.count("\n| C") == len(claim_answers(table))
    assert "**supported**" in text and "not evaluated" in text and "Holm" in text
    assert "Power:" in text and "descriptive" in text


def test_exact_rows_are_a_lower_bound_against_an_upper_bound(tmp_path, config):
    """C2's exact row: per seed, the adversarial nets' exact lower bound minus the clean nets'
    upper bound (undecided points count against the claim), descriptive, with the width."""
    counts = {"clean": (2, 5, 1), "fgm_l2": (6, 1, 1), "clean_twin": (2, 5, 1)}
    exact = pd.DataFrame([{"variant": variant, "seed": seed, "norm": "l2", "eps": 0.05,
                           "points": 8, "robust": robust, "broken": broken,
                           "undecided": undecided, "lower": robust / 8,
                           "upper": (robust + undecided) / 8, "width": undecided / 8,
                           "attack_accuracy": (robust + undecided) / 8}
                          for variant, (robust, broken, undecided) in counts.items()
                          for seed in SEEDS])
    files = {**paper_like(tmp_path), **inputs(tmp_path, supervised_exact=exact)}
    exact_row = row(claims_table(config, files), "C2", "supervised, exact, l2 eps=0.05")
    assert exact_row["estimate"] == pytest.approx(6 / 8 - 3 / 8)
    assert exact_row["evidence"] == "exact verification"
    assert exact_row["verdict"] == DESCRIPTIVE
    assert "width 0.125" in exact_row["detail"] and "undecided 0.125" in exact_row["detail"]


def convergence(cumulative, ensemble, moved=0.0):
    """The convergence study's table at l2 0.5, 4 levels: each variant's cumulative robust
    accuracy falls by ``moved`` at the last doubling to ``cumulative[variant]``; the ensemble
    on the same points at ``ensemble[variant]``."""
    rows = []
    for variant in ("clean", "fgm_l2", "clean_twin", "ideal"):
        for seed in SEEDS:
            last = cumulative[variant] + noise(seed)
            for level in range(4):
                value = last + moved + 0.02 * (3 - level) if level < 3 else last
                rows.append({"task": "supervised", "activation": "gate", "variant": variant,
                             "seed": seed, "norm": "l2", "eps": 0.5, "level": level,
                             "steps": 4 * 2 ** ((level + 1) // 2), "restarts": 1 + level // 2,
                             "square_queries": 10 * 2**level, "relative_budget": 2.0**level,
                             "accuracy": value, "cumulative": value,
                             "converged": moved <= 0.005,
                             "ensemble_accuracy": ensemble[variant] + noise(seed)})
    return pd.DataFrame(rows)


def test_a_row_whose_attack_has_not_converged_is_not_supported(tmp_path, config):
    """With a converged study that agrees with the ensemble, the ensemble's C2 row and the
    converged row are supported (paper_like: fgm_l2 0.65 vs clean 0.07); when the last doubling
    still moves the figure by 0.05, neither may be; when a stronger attack lowers fgm_l2 below
    the ensemble's by 0.1, the ensemble's row may not be."""
    accuracy = {"clean": 0.07, "fgm_l2": 0.65, "clean_twin": 0.072, "ideal": IDEAL["attacked"]}
    scopes = ("supervised, worst_case", "supervised, converged attack")

    def verdicts(study):
        files = {**paper_like(tmp_path, converged=False),
                 **inputs(tmp_path, supervised_convergence=study)}
        table = claims_table(config, files)
        return {scope: row(table, "C2", scope) for scope in scopes}

    agreed = verdicts(convergence(accuracy, accuracy))
    assert {r["verdict"] for r in agreed.values()} == {SUPPORTED}, agreed
    assert agreed[scopes[1]]["evidence"] == "converged attack (budget doublings)"
    moving = verdicts(convergence(accuracy, accuracy, moved=0.05))
    for scope in scopes:
        assert moving[scope]["verdict"] != SUPPORTED
        assert "has not converged" in moving[scope]["reason"], moving[scope]["reason"]
    weaker = verdicts(convergence({**accuracy, "fgm_l2": 0.55}, accuracy))
    assert weaker[scopes[0]]["verdict"] != SUPPORTED
    assert "lowers fgm_l2's robust accuracy by 0.100" in weaker[scopes[0]]["reason"]
    assert weaker[scopes[1]]["verdict"] == SUPPORTED  # 0.55 still clears 0.5 and the gain


def sandwich(accuracies, task="supervised", variants=VARIANTS):
    """Worst-case and certified accuracy per variant and budget: ``accuracies[(norm, eps)]`` is
    {variant: (worst case, certified)}."""
    return pd.DataFrame([
        {"task": task, "activation": "gate", "variant": variant, "seed": seed,
         "attack": attack, "norm": norm, "eps": eps, "accuracy": value + noise(seed)}
        for (norm, eps), cells in accuracies.items() for variant in variants
        for seed in SEEDS
        for attack, value in zip(("worst_case", "certified"), cells.get(variant, cells["clean"]))])


SMALL = {("l2", 0.05), ("linf", 0.02)}


def positive_control_files(tmp_path, purified_certified):
    """The positive control's inputs at the small budgets: the clean layer's head attacked at
    0.8; the purified layer's and the blend's pure end's certified at ``purified_certified``."""
    heads = {budget: {"clean": (0.8, 0.5)} for budget in SMALL}
    purified = {budget: {"clean": (0.99, purified_certified)} for budget in SMALL}
    blend = pd.concat([
        sandwich({b: {"clean": (0.8, 0.5)} for b in SMALL}, variants=("blend_0",)).assign(
            blend=0.0),
        sandwich({b: {"clean": (0.99, purified_certified)} for b in SMALL},
                 variants=("blend_1",)).assign(blend=1.0)])
    return {**paper_like(tmp_path), **inputs(
        tmp_path, downstream_supervised=pd.concat([
            pd.read_csv(paper_like(tmp_path)["downstream_supervised"][0]), sandwich(heads)]),
        downstream_baselines=sandwich(purified, task="baseline", variants=("purified",)),
        downstream_blend=blend)}


def test_the_positive_control_is_supported_and_can_fail(tmp_path, config):
    """A clean head on the purified layer, certified at 0.95 against the clean layer's head
    attacked at 0.8: supported at both small budgets, on certified evidence; the blend's pure
    end, certified at 0.95, robust. Certified at only 0.82 (a gain of 0.02 < 0.05), the
    purified layer's rows are not supported; certified at 0.4, the blend's neither: a certified
    accuracy is a lower bound, so falling short leaves them inconclusive, never contradicted."""
    table = claims_table(config, positive_control_files(tmp_path, 0.95))
    controls = table[table["claim"] == "control+"].set_index("scope")
    assert set(controls.index) == {f"{name}, {norm} eps={eps:g}" for norm, eps in SMALL
                                   for name in ("purified layer", "blend study's pure end")}
    assert (controls["verdict"] == SUPPORTED).all(), controls["reason"]
    assert (controls["evidence"] == "certified bound").all()
    assert controls.loc["purified layer, l2 eps=0.05", "estimate"] == pytest.approx(0.15,
                                                                                    abs=0.01)
    assert controls.loc["blend study's pure end, l2 eps=0.05", "estimate"] == pytest.approx(
        0.45, abs=0.01)
    for certified, names in ((0.82, ("purified layer",)),
                             (0.4, ("purified layer", "blend study's pure end"))):
        weak = claims_table(config, positive_control_files(tmp_path, certified))
        weak = weak[weak["claim"] == "control+"]
        for item in weak.itertuples():
            failed = item.scope.split(",")[0] in names
            assert item.verdict == (INCONCLUSIVE if failed else SUPPORTED), (certified, item)
            if failed:
                assert "lower bound" in item.reason


def test_budget_range_decides_each_budget_on_its_best_evidence(tmp_path, config):
    """At l2 0.05 the bound proves the adversarial nets robust (certified 0.9 vs the clean
    nets' attacked 0.7): supported on the bounds, while the ensemble row cannot be (its
    convergence is not measured there). At 0.5 the adversarial nets' attacked accuracy 0.3 is
    below 0.5: contradicted. The clean nets are above the adversarial ones at 0.02 and below
    them at 0.05: a crossover between the two."""
    from advpretrain.claims.claims import budget_table
    from advpretrain.claims.markdown import budget_verdicts

    ideal = (0.95, 0.9)  # certified robust at every budget: all admissible
    grid = {("l2", 0.02): {"clean": (0.9, 0.5), "fgm_l2": (0.85, 0.6), "ideal": ideal},
            ("l2", 0.05): {"clean": (0.7, 0.3), "fgm_l2": (0.95, 0.9), "ideal": ideal},
            ("l2", 0.5): {"clean": (0.05, 0.0), "fgm_l2": (0.3, 0.0), "ideal": ideal}}
    files = paper_like(tmp_path)
    natural = pd.read_csv(files["supervised_robustness"][0]).query("eps == 0")
    files.update(inputs(tmp_path, supervised_robustness=pd.concat([natural, sandwich(grid)])))
    by_budget = budget_table(config, files)
    c2 = by_budget[by_budget["group"] == "C2, supervised"]
    ensemble = c2[(c2["basis"] == "ensemble") & (c2["eps"] == 0.05)].iloc[0]
    assert ensemble["verdict"] == INCONCLUSIVE and "not measured" in ensemble["reason"]
    verdicts = budget_verdicts(by_budget)
    verdicts = verdicts[verdicts["group"] == "C2, supervised"].set_index("eps")["verdict"]
    assert verdicts[0.05] == "supported (bounds)"
    assert verdicts[0.5] == CONTRADICTED
    text = claims_markdown(claims_table(config, files), config["claims"], by_budget)
    assert "| C2, supervised | l2 |" in text and "| 0.02-0.05 |" in text


def test_the_ideal_passes_every_rule_it_should(tmp_path, config):
    """The known answers: every deciding rule whose statement holds of the theory's ideal,
    applied with the ideal in the adversarial variant's place, supports it (or is kept from
    support only by the unmeasured convergence of its attack, which blocks the row itself)."""
    from advpretrain.claims.claims import simulation_rows

    frame = simulation_rows(config, paper_like(tmp_path), HOLDS_FOR_IDEAL).table.frame(
        internal=True)
    rows = frame[(frame["_known"] == HOLDS_FOR_IDEAL) & frame["_descriptive"].isna()]
    assert len(rows) >= 10
    blocked = rows["_unconverged"].apply(lambda why: isinstance(why, str)) & (
        rows["reason"] == rows["_unconverged"])
    assert ((rows["verdict"] == SUPPORTED) | blocked).all(), rows[["scope", "verdict",
                                                                   "reason"]]
    assert set(rows.loc[rows["verdict"] == SUPPORTED, "claim"]) >= {"C1", "C2", "C3", "C5"}


def test_a_rule_the_ideal_fails_turns_its_row_untestable(tmp_path, config):
    """Two planted failures of the known answer. The ideal certified at 0.3 at the reference
    budget: the budget is beyond its reach, so every robustness row there is untestable (not
    contradicted, though the adversarial nets' robust accuracy is far below 0.5). The ideal's
    layer covering too few features for C1's rule: C1's row is untestable, whatever the
    adversarial nets show."""
    files = paper_like(tmp_path)
    frame = pd.read_csv(files["supervised_robustness"][0])
    frame.loc[(frame["variant"] == "ideal") & (frame["attack"] == "certified"), "accuracy"] = 0.3
    frame.loc[(frame["variant"] == "fgm_l2") & (frame["eps"] == 0.5), "accuracy"] = 0.2
    frame.to_csv(files["supervised_robustness"][0], index=False)
    table = claims_table(config, files)
    for scope in ("supervised, worst_case", "supervised, converged attack",
                  "supervised, worst_case, nets broken"):
        item = row(table, "C2", scope)
        assert item["verdict"] == UNTESTABLE, (scope, item["reason"])
        assert "beyond the ideal's certified reach" in item["reason"]
    assert row(table, "C1", "supervised")["verdict"] == SUPPORTED  # no budget in C1

    files = paper_like(tmp_path)
    frame = pd.read_csv(files["supervised_summary"][0])
    frame.loc[(frame["variant"] == "ideal") & (frame["measure"] == "coverage"), "value"] = 0.5
    frame.to_csv(files["supervised_summary"][0], index=False)
    c1 = row(claims_table(config, files), "C1", "supervised")
    assert c1["verdict"] == UNTESTABLE and "the theory's ideal fails this rule" in c1["reason"]
    assert c1["known_answer"].startswith("ideal: ")


def test_a_planted_operating_point_asymmetry_cannot_flip_c4(tmp_path):
    """Similar pairs fit far better than dissimilar ones (clean loss 0.026 vs 0.915, as
    measured): the attack flips 0.3 more of the dissimilar pairs and raises their loss 0.3 more,
    yet the relative loss increase (divided by each type's clean loss) says the similar pairs
    are hurt more. The accuracy drop says what the flips say at every operating point."""
    gaps = {"clean": 0.3, "fgm_l2": 0.0, "clean_twin": 0.3, "untrained": 0.0, "ideal": 0.0}
    attack = {"attack": "worst_case", "norm": "l2", "eps": 0.5}
    by_point = {}
    for similar, dissimilar in ((0.026, 0.915), (0.3, 0.3), (0.915, 0.026)):
        frame = pair_loss(gaps, similar_loss=similar, dissimilar_loss=dissimilar)
        by_point[(similar, dissimilar)] = {
            statistic: pair_gaps(frame, attack, statistic)[0].set_index(
                ["variant", "seed"])["gap"].xs("clean").mean()
            for statistic in ("accuracy_drop", "loss_increase", "relative_loss_increase")}
    drops = [values["accuracy_drop"] for values in by_point.values()]
    assert drops == pytest.approx([0.3] * 3, abs=0.01)
    assert by_point[(0.026, 0.915)]["relative_loss_increase"] < 0 < drops[0]
    assert by_point[(0.915, 0.026)]["relative_loss_increase"] > 0


@pytest.mark.parametrize("width", [1, 2, 4])
def test_the_purity_criterion_passes_the_ideal_at_every_width(width):
    """One pure node per feature (rows M_j) and H - d unused nodes (rows too small to fire),
    measured by the pipeline's own node measures on sparse-coding inputs: C1/C3's live +
    coverage criterion passes at H = d, 2d and 4d, while the all-node criterion fails at 4d."""
    import torch

    from advpretrain.model.measures import (
        crossing_distance,
        feature_coefficients,
        node_measures,
        summarise_nodes,
    )
    from advpretrain.model.networks import TwoLayerNets

    d, hidden, samples = 12, 12 * width, 2000
    generator = torch.Generator().manual_seed(0)
    dictionary = torch.linalg.qr(torch.randn(d, d, generator=generator))[0]
    unused = 0.01 * torch.randn(hidden - d, d, generator=generator)
    weight = torch.cat([dictionary.T, unused])[None]
    nets = TwoLayerNets(weight, torch.zeros(1, hidden), activation="gate", threshold=0.3)
    latent = torch.sign(torch.randn(samples, d, generator=generator)) * (
        torch.rand(samples, d, generator=generator) < 2 / d)
    z = (latent @ dictionary.T + 0.05 * torch.randn(samples, d, generator=generator))[None]
    with torch.no_grad():
        rates = (nets.hidden(z) != 0).float().mean(1)[0]
    measures = node_measures(feature_coefficients(weight, dictionary[None]))
    nodes = pd.DataFrame({"variant": "ideal", "seed": 0, "node": range(hidden),
                          "purity": measures["purity"][0].numpy(),
                          "main_feature": measures["main_feature"][0].numpy(),
                          "participation_ratio": measures["participation_ratio"][0].numpy(),
                          "feature_count": measures["feature_count"][0].numpy(),
                          "norm": measures["norm"][0].numpy(), "functional_purity": 1.0,
                          "live": (rates >= 0.5 * 2 / d).numpy(),
                          "row_norm": weight[0].norm(dim=-1).numpy(),
                          "effective_threshold": crossing_distance(nets)[0].numpy(),
                          "reachable": (crossing_distance(nets)[0] <= 0.5).numpy()})
    summary = summarise_nodes(nodes, d, 0.9).set_index("measure")["value"]
    assert min(summary["purity"] - 0.7071, summary["coverage"] - 0.9) >= 0, summary
    # (d + (H - d) p0) / H: 1 at H = d, below 1/sqrt(2) by H = 4d (p0 about 0.6 at d = 12).
    assert (summary["purity_all"] >= 0.7071) == (width < 4), summary["purity_all"]


def test_a_claim_s_answer_comes_from_its_deciding_rows():
    """Contradicted when one deciding row is, supported when all are, partly supported when some
    are and none contradicted; descriptive rows and the positive control decide nothing."""
    def rows(*verdicts, claim="C2", setting="supervised"):
        return [{"claim": claim, "scope": f"{setting}, row {i}", "verdict": verdict,
                 "reason": f"reason {i}", "evidence": "e"} for i, verdict in enumerate(verdicts)]
    frame = pd.DataFrame(
        rows(SUPPORTED, CONTRADICTED, INCONCLUSIVE, claim="C1")
        + rows(SUPPORTED, DESCRIPTIVE, SUPPORTED, claim="C2")
        + rows(SUPPORTED, INCONCLUSIVE, claim="C5", setting="after supervised")
        + rows(INCONCLUSIVE, UNTESTABLE, claim="C5", setting="after contrastive")
        + rows(UNTESTABLE, claim="C3") + rows(CONTRADICTED, claim="control+")
        + [{"claim": "C6", "scope": "CIFAR-10", "verdict": NOT_EVALUATED,
            "reason": "no GPU", "evidence": ""}])
    answers = claim_answers(frame).set_index(["claim", "setting"])
    assert answers.loc[("C1", "supervised"), "answer"] == CONTRADICTED
    assert answers.loc[("C1", "supervised"), "reason"] == "reason 1"
    assert answers.loc[("C2", "supervised"), "answer"] == SUPPORTED
    assert answers.loc[("C5", "after supervised"), "answer"] == "partly supported"
    assert answers.loc[("C5", "after supervised"), "reason"] == "reason 1"
    assert answers.loc[("C5", "after contrastive"), "answer"] == INCONCLUSIVE
    assert answers.loc[("C3", "supervised"), "answer"] == UNTESTABLE
    assert answers.loc[("C6", "CIFAR-10"), "answer"] == NOT_EVALUATED
    assert "control+" not in answers.index.get_level_values("claim")


def test_the_answers_render_for_the_report_as_written(tmp_path, config):
    """The landing page's list (reStructuredText) shows each answer's words literally, and the
    HTML page holds every row of the table."""
    from docutils.core import publish_parts

    table = claims_table(config, paper_like(tmp_path))
    table.loc[table.index[4], "reason"] = "a *starred* `ticked` fgm_l2_ reason | piped"
    rst = answers_rst(table)
    html = publish_parts(rst, writer="html",
                         settings_overrides={"report_level": 1, "halt_level": 2})["body"]
    assert "System Message" not in html
    assert "a *starred* `ticked` fgm_l2_ reason | piped" in html.replace("&quot;", '"')
    assert html.count("<li>") == len(claim_answers(table))
    page = claims_html(table, None)
    assert page.count("<tr>") == len(claim_answers(table)) + len(table)  # body rows
