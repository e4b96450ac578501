"""The pair-attack study (beyond the paper, its open question 3): contrastive pre-training whose
training attack hits the similar pairs only or the dissimilar pairs only, compared with clean
training and attacks on all pairs, from the same initialisation and minibatches. This stage
only joins the tables of the evaluation stages.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from advpretrain.core import fileio
from advpretrain.core.tables import at_attack, read_csvs

STUDY_MEASURES = ["purity", "purity_all", "coverage", "participation_ratio", "feature_count",
                  "dead_share"]


def attacked_pairs(frame: pd.DataFrame, study_tasks: Mapping[str, str]) -> np.ndarray:
    """Which pairs the training attack hit: none (clean), all, similar or dissimilar."""
    study = frame["task"].map(study_tasks)
    main = pd.Series(np.where(frame["train_eps"] > 0, "all", "none"), index=frame.index)
    return study.fillna(main).to_numpy()


def pair_attack_study(settings: Mapping, inputs: Mapping, outputs: Mapping) -> None:
    """One tidy CSV of the pair-attack study: node measures, clean loss and loss increase under
    the reference attack per pair type, for clean training, attacks on all pairs, on the similar
    pairs only and on the dissimilar pairs only (same initialisation and minibatches)."""
    summary = read_csvs(inputs["summary"])
    summary = summary[summary["measure"].isin(STUDY_MEASURES)]
    pairs = read_csvs(inputs["pair_loss"])
    keys = ["task", "activation", "variant", "train_norm", "train_eps", "seed"]
    attacked = at_attack(pairs, settings["reference_attack"])
    attacked = attacked.assign(measure="loss_increase_" + attacked["pair_type"],
                               value=attacked["loss_increase"])
    clean = pairs[pairs["eps"] == 0].drop_duplicates([*keys, "pair_type"])
    clean = clean.assign(measure="clean_loss_" + clean["pair_type"], value=clean["loss"])
    frame = pd.concat([summary, attacked[[*keys, "measure", "value"]],
                       clean[[*keys, "measure", "value"]]], ignore_index=True)
    frame = frame[frame["variant"].isin(settings["variants"])]
    frame.insert(2, "attacked_pairs", attacked_pairs(frame, settings["study_tasks"]))
    fileio.write_csv(outputs["csv"], frame.reset_index(drop=True))
