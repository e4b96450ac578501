"""Figures of the contrastive half (C3, C4 and the pair-attack study), from its CSVs alone.

Registered in ``workflow.figures``; the purity distributions and heat maps of the contrastive
networks are drawn by ``pretrained.plot_purity_distribution`` / ``plot_coefficient_heatmaps``.
"""

from advpretrain.core.tables import ATTACKED_PAIRS, PAIR_TYPE_ORDER, attack_label, read_csvs
from advpretrain.figures.style import finish_grid, main_variants, sns


def plot_contrastive_pair_loss(inputs, settings, stem):
    """Loss increase under attack vs eps, similar vs dissimilar pairs, per training variant (C4)."""
    frame = read_csvs(inputs["pair_loss"])
    frame, order = main_variants(frame, settings)
    frame = frame.assign(attack_norm=frame["attack"] + " " + frame["norm"])
    grid = sns.relplot(data=frame, x="eps", y="loss_increase", hue="pair_type",
                       hue_order=PAIR_TYPE_ORDER, style="pair_type", markers=True,
                       dashes=False, row="attack_norm", col="variant", col_order=order,
                       kind="line", errorbar="sd", height=2.3, aspect=1.15,
                       facet_kws={"sharex": "row", "sharey": "row"})
    finish_grid(grid, ("attack eps", "loss(eps) - loss(0)"), "{row_name} | trained {col_name}",
                "Contrastive: loss increase under attack, similar vs dissimilar pairs "
                "(mean and sd over seeds)", stem, y=1.02)


def plot_contrastive_pair_loss_training(inputs, settings, stem):
    """Loss increase under the tracked FGM attacks during training, per pair type and variant."""
    frame = read_csvs(inputs["pair_loss_training"])
    frame, order = main_variants(frame[frame["eps"] > 0], settings)
    frame = frame.assign(attack_budget=frame["attack"] + " " + frame["norm"] + " eps="
                         + frame["eps"].map("{:g}".format))
    grid = sns.relplot(data=frame, x="step", y="loss_increase", hue="pair_type",
                       hue_order=PAIR_TYPE_ORDER, row="attack_budget", col="variant",
                       col_order=order, kind="line", errorbar="sd", height=2.3, aspect=1.25,
                       facet_kws={"sharey": "row"})
    finish_grid(grid, ("training step", "loss(eps) - loss(0)"), "{row_name} | trained {col_name}",
                "Contrastive: attack loss increase on test pairs during training", stem, y=1.02)


def plot_contrastive_pair_attack(inputs, settings, stem):
    """Pair-attack study: purity and loss increases when training attacks only one pair type."""
    frame = read_csvs(inputs["pair_attack"])
    attack = attack_label(settings["reference_attack"])
    panels = {"purity": "mean node purity",
              "loss_increase_similar": "similar pairs: loss increase",
              "loss_increase_dissimilar": "dissimilar pairs: loss increase"}
    frame = frame[frame["measure"].isin(panels)].assign(
        panel=lambda f: f["measure"].map(panels))
    order = [v for v in settings["variants"] if v in set(frame["variant"])]
    grid = sns.catplot(data=frame, x="attacked_pairs", y="value", hue="variant",
                       hue_order=order, order=[a for a in ATTACKED_PAIRS
                                               if a in set(frame["attacked_pairs"])],
                       col="panel", col_order=list(panels.values()), kind="point",
                       errorbar="sd", dodge=0.3, linestyle="none", height=2.8, aspect=1.1,
                       sharey=False)
    finish_grid(grid, ("pairs attacked during training", ""), "{col_name}",
                "Beyond the paper: training attacks on one pair type only; loss "
                f"increase under {attack} (mean and sd over seeds)", stem, y=1.04)
