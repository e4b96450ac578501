"""The claims table: each claim's statistic, a bootstrap interval over seeds, and a verdict.

Every statistic is a mean over seeds of a per-seed value, mostly a paired difference (adversarial
minus clean pre-training on the same seed: same data, initialisation and minibatches). The seeds
are resampled with replacement (``claims.resamples`` times, a fixed seed from ``derive_seed``) and
the percentile interval at ``claims.confidence`` is reported. A claim is "supported" when the
whole interval lies above its threshold (``claims.thresholds``), "not supported" otherwise, and
"not evaluated" when its input is missing. Built from the workflow's CSVs only.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import fileio
from .canonical import plain
from .seeding import derive_seed, numpy_rng
from .tables import at_attack, read_csvs

SUPPORTED, NOT_SUPPORTED, NOT_EVALUATED = "supported", "not supported", "not evaluated"
COLUMNS = ["claim", "scope", "statement", "statistic", "n_seeds", "estimate", "ci_low", "ci_high",
           "threshold", "verdict", "detail", "source"]


def bootstrap_interval(values, resamples, confidence, seed):
    """Mean of ``values`` (one per seed) and its percentile bootstrap interval over seeds."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return np.nan, np.nan, np.nan
    rng = numpy_rng(seed)
    means = values[rng.integers(0, values.size, (resamples, values.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(values.mean()), float(low), float(high)


def verdict(low, threshold):
    """Supported when the whole interval lies above the threshold."""
    if np.isnan(low):
        return NOT_EVALUATED
    return SUPPORTED if low > threshold else NOT_SUPPORTED


def paired(frame, value, clean, adversarial):
    """Per-seed adversarial minus clean ``value``; seeds missing either variant are dropped."""
    table = frame[frame["variant"].isin([clean, adversarial])].pivot_table(
        index="seed", columns="variant", values=value, aggfunc="mean")
    if clean not in table or adversarial not in table:
        return pd.Series(dtype=float), table
    table = table.dropna(subset=[clean, adversarial])
    return table[adversarial] - table[clean], table


class Table:
    """Collects claim rows with their intervals and verdicts."""

    def __init__(self, settings, base_seed):
        self.settings, self.base_seed, self.rows = settings, base_seed, []

    def add(self, claim, scope, statement, statistic, per_seed, detail="", source="",
            threshold_key=None):
        threshold = self.settings["thresholds"][threshold_key or claim]
        seed = derive_seed(self.base_seed, "claims", claim, scope, threshold_key or "")
        estimate, low, high = bootstrap_interval(np.asarray(per_seed, dtype=float),
                                                 self.settings["resamples"],
                                                 self.settings["confidence"], seed)
        n = int(np.size(per_seed))
        if n == 1:
            detail = (detail + "; " if detail else "") + "one run: the interval is degenerate"
        self.rows.append({"claim": claim, "scope": scope, "statement": statement,
                          "statistic": statistic, "n_seeds": n, "estimate": estimate,
                          "ci_low": low, "ci_high": high, "threshold": threshold,
                          "verdict": verdict(low, threshold), "detail": detail,
                          "source": source})

    def missing(self, claim, scope, statement, statistic, why, threshold_key=None):
        self.rows.append({"claim": claim, "scope": scope, "statement": statement,
                          "statistic": statistic, "n_seeds": 0, "estimate": np.nan,
                          "ci_low": np.nan, "ci_high": np.nan,
                          "threshold": self.settings["thresholds"][threshold_key or claim],
                          "verdict": NOT_EVALUATED, "detail": why, "source": ""})

    def frame(self):
        return pd.DataFrame(self.rows, columns=COLUMNS)


def _means(table, clean, adversarial, digits=3):
    return (f"{clean} {table[clean].mean():.{digits}f}, "
            f"{adversarial} {table[adversarial].mean():.{digits}f}")


def _purity_claim(table, claim, task, summary, clean, adversarial, source):
    purity = summary[summary["measure"] == "purity"]
    diff, values = paired(purity, "value", clean, adversarial)
    table.add(claim, task, f"{task} adversarial pre-training purifies the hidden nodes",
              f"mean node purity, {adversarial} - {clean} (paired by seed)", diff,
              _means(values, clean, adversarial) if len(diff) else "", source)


def _attack_name(reference):
    return f"{reference['attack']}-{reference['norm']} eps {reference['eps']:g}"


def supervised_claims(table, summary, robustness, clean, adversarial, reference, sources):
    _purity_claim(table, "C1", "supervised", summary, clean, adversarial, sources["summary"])
    attacked = at_attack(robustness, reference)
    diff, values = paired(attacked, "accuracy", clean, adversarial)
    table.add("C2", "supervised", "without adversarial training the pre-trained nets are "
              "vulnerable; adversarial training makes them robust",
              f"accuracy under {_attack_name(reference)}, {adversarial} - {clean}", diff,
              _means(values, clean, adversarial) if len(diff) else "", sources["robustness"])
    clean_rows = robustness[(robustness["variant"] == clean)
                            & (robustness["attack"] == reference["attack"])
                            & (robustness["norm"] == reference["norm"])]
    natural = clean_rows[clean_rows["eps"] == 0].groupby("seed")["accuracy"].mean()
    under = at_attack(clean_rows, reference).groupby("seed")["accuracy"].mean()
    drop = (natural - under).dropna()
    table.add("C2", "supervised, clean nets", "small attacks break the clean pre-trained nets",
              f"{clean}: clean accuracy - accuracy under {_attack_name(reference)}", drop,
              f"clean {natural.mean():.3f}, attacked {under.mean():.3f}" if len(drop) else "",
              sources["robustness"], threshold_key="C2_collapse")


def contrastive_claims(table, summary, pair_loss, clean, adversarial, reference, sources):
    if summary is None:
        table.missing("C3", "contrastive", "contrastive adversarial pre-training purifies",
                      "mean node purity, adversarial - clean", "contrastive summary.csv missing")
    else:
        _purity_claim(table, "C3", "contrastive", summary, clean, adversarial, sources["summary"])
    statement = "attacks hurt dissimilar pairs more than similar pairs before purification"
    if pair_loss is None:
        table.missing("C4", "contrastive", statement, "loss increase, dissimilar - similar",
                      "pair_loss.csv missing (contrastive pair evaluation not in the workflow)")
        table.missing("C4", "contrastive, adversarial", "adversarial training closes that gap",
                      "gap, clean - adversarial", "pair_loss.csv missing",
                      threshold_key="C4_purification")
        return
    gap = pair_gaps(pair_loss, reference)
    if gap.empty:
        why = f"pair_loss.csv has no rows at {_attack_name(reference)} and eps 0"
        table.missing("C4", "contrastive", statement, "loss increase, dissimilar - similar", why)
        table.missing("C4", "contrastive, adversarial", "adversarial training closes that gap",
                      "gap, clean - adversarial", why, threshold_key="C4_purification")
        return
    clean_gap = gap[gap["variant"] == clean].set_index("seed")
    detail = ""
    if len(clean_gap):
        ratio = clean_gap["dissimilar"].mean() / max(clean_gap["similar"].mean(), 1e-12)
        detail = (f"increase dissimilar {clean_gap['dissimilar'].mean():.3f}, similar "
                  f"{clean_gap['similar'].mean():.3f} (ratio {ratio:.1f})")
    table.add("C4", "contrastive", statement,
              f"{clean}: loss increase under {_attack_name(reference)}, dissimilar - similar "
              "pairs", clean_gap["gap"], detail, sources["pair_loss"])
    diff, values = paired(gap, "gap", adversarial, clean)  # clean - adversarial
    table.add("C4", "contrastive, adversarial",
              "adversarial training removes the dissimilar pairs' vulnerability",
              f"that gap, {clean} - {adversarial} (paired by seed)", diff,
              _means(values, clean, adversarial) if len(diff) else "", sources["pair_loss"],
              threshold_key="C4_purification")


def pair_gaps(pair_loss, reference):
    """Per (variant, seed): loss increase under the reference attack of each pair type, and
    ``gap`` = dissimilar - similar."""
    keys = ["variant", "seed", "pair_type"]
    clean = pair_loss[pair_loss["eps"] == 0].groupby(keys)["loss"].mean()
    attacked = at_attack(pair_loss, reference).groupby(keys)["loss"].mean()
    increase = (attacked - clean).dropna().unstack("pair_type")
    if increase.empty or not {"similar", "dissimilar"} <= set(increase.columns):
        return pd.DataFrame(columns=["variant", "seed", "similar", "dissimilar", "gap"])
    increase["gap"] = increase["dissimilar"] - increase["similar"]
    return increase.reset_index()


def downstream_claims(table, frames, clean, adversarial, reference, sources):
    for task, frame in frames.items():
        attacked = at_attack(frame, reference)
        diff, values = paired(attacked, "accuracy", clean, adversarial)
        table.add("C5", f"downstream after {task} pre-training",
                  "a clean-trained head on a purified layer is robust, on a clean one it is not",
                  f"downstream accuracy under {_attack_name(reference)}, {adversarial} - {clean}",
                  diff, _means(values, clean, adversarial) if len(diff) else "", sources[task])


def cifar_claims(table, cifar_table, source):
    """C6 from the CIFAR-10 branch's table (one run per variant: no interval over seeds)."""
    for task in dict.fromkeys(cifar_table["task"]):
        rows = cifar_table[cifar_table["task"] == task].set_index("adversarial_pretraining")
        rows.index = rows.index.astype(str).str.lower() == "true"
        statement = "adversarial pre-training then a clean linear head gives higher PGD accuracy"
        if not {True, False} <= set(rows.index):
            table.missing("C6", f"CIFAR-10 {task}", statement, "PGD accuracy, adv - clean",
                          f"the table lacks a clean or an adversarial {task} variant")
            continue
        adv, clean = rows.loc[True], rows.loc[False]
        table.add("C6", f"CIFAR-10 {task}", statement,
                  f"PGD accuracy of the clean linear head, {adv['variant']} - {clean['variant']}",
                  [adv["pgd_accuracy"] - clean["pgd_accuracy"]],
                  f"clean {clean['pgd_accuracy']:.3f}, adversarial {adv['pgd_accuracy']:.3f}",
                  source)


def claims_table(settings, inputs):
    """The claims frame from the workflow's CSVs.

    inputs: dict of path lists: ``supervised_summary``, ``supervised_robustness``, optional
    ``contrastive_summary``, ``pair_loss``, ``downstream_supervised``,
    ``downstream_contrastive``, ``cifar_table`` (absent or empty: the claim is "not evaluated").
    """
    claims = settings["claims"]
    clean, adversarial = claims["clean_variant"], claims["adversarial_variant"]
    reference = plain(settings["reference_attack"])
    table = Table(claims, settings["base_seed"])
    source = {key: ", ".join(map(str, paths)) for key, paths in inputs.items()}
    supervised_claims(table, read_csvs(inputs["supervised_summary"]),
                      read_csvs(inputs["supervised_robustness"]), clean, adversarial, reference,
                      {"summary": source["supervised_summary"],
                       "robustness": source["supervised_robustness"]})
    contrastive_claims(table, read_csvs(inputs.get("contrastive_summary", [])),
                       read_csvs(inputs.get("pair_loss", [])), clean, adversarial, reference,
                       {"summary": source.get("contrastive_summary", ""),
                        "pair_loss": source.get("pair_loss", "")})
    downstream = {task: read_csvs(inputs.get(f"downstream_{task}", []))
                  for task in ("supervised", "contrastive")}
    downstream = {task: frame for task, frame in downstream.items() if frame is not None}
    if not downstream:
        table.missing("C5", "downstream", "clean heads inherit robustness",
                      "downstream accuracy, adv - clean", "downstream.csv missing")
    downstream_claims(table, downstream, clean, adversarial, reference,
                      {task: source.get(f"downstream_{task}", "") for task in downstream})
    cifar = read_csvs(inputs.get("cifar_table", []))
    if cifar is None:
        table.missing("C6", "CIFAR-10", "adversarial pre-training gives robust clean heads",
                      "PGD accuracy, adv - clean",
                      "not run: cifar.enabled is false (the CIFAR-10 branch needs a GPU run)")
    else:
        cifar_claims(table, cifar, source["cifar_table"])
    return table.frame()


def markdown(frame, settings):
    level = f"{100 * settings['confidence']:g}%"
    lines = [
        "# Claims reproduced by this run",
        "",
        f"Written by the workflow (rule `claims`) from its CSV outputs. Interval: {level} "
        f"percentile bootstrap over seeds ({settings['resamples']} resamples; paired "
        "adversarial-minus-clean differences per seed). A claim is *supported* when its whole "
        "interval lies above its threshold.",
        "",
        f"| claim | scope | statistic | estimate [{level} CI] | threshold | seeds | verdict | "
        "detail |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in frame.itertuples(index=False):
        value = ("n/a" if np.isnan(row.estimate)
                 else f"{row.estimate:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]")
        verdict_text = f"**{row.verdict}**" if row.verdict == SUPPORTED else row.verdict
        lines.append(f"| {row.claim} | {row.scope} | {row.statistic} | {value} | "
                     f"{row.threshold:g} | {row.n_seeds} | {verdict_text} | {row.detail} |")
    lines += ["", "Statements:", ""]
    for claim, statement in dict.fromkeys(zip(frame["claim"], frame["statement"])):
        lines.append(f"- {claim}: {statement}")
    return "\n".join(lines) + "\n"


def write_claims(settings: Mapping, inputs: Mapping, outputs: Mapping) -> None:
    """The claims table as CSV (``outputs["csv"]``) and Markdown (``outputs["md"]``)."""
    frame = claims_table(settings, inputs)
    fileio.write_csv(outputs["csv"], frame)
    with fileio.atomic_path(outputs["md"]) as tmp:
        tmp.write_text(markdown(frame, settings["claims"]))
