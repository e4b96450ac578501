"""The exact-verification table on a hand-made summary whose answers are known."""

import pandas as pd
import pytest

from advpretrain.simulation.exact_table import exact_rows, exact_table


def summary():
    """Two seeds of two variants at one budget: clean 5 robust, 2 broken, 1 undecided of 8 per
    net; fgm_l2 everything decided."""
    rows = []
    for variant, (robust, broken, undecided) in {"clean": (5, 2, 1), "fgm_l2": (6, 2, 0)}.items():
        for seed in range(2):
            rows.append({"task": "supervised", "activation": "gate", "variant": variant,
                         "train_norm": "l2", "train_eps": 0.5, "seed": seed, "norm": "l2",
                         "eps": 0.05, "points": 8, "robust": robust, "broken": broken,
                         "undecided": undecided, "lower": robust / 8,
                         "upper": (robust + undecided) / 8, "width": undecided / 8,
                         "attack_accuracy": (robust + undecided) / 8})
    return pd.DataFrame(rows)


def test_rows_pool_the_seeds_and_say_whether_the_sandwich_closed():
    table = exact_rows(summary(), closed_width=0.01).set_index("variant")
    assert table.loc["clean", "networks"] == 2 and table.loc["clean", "points"] == 8
    assert table.loc["clean", "undecided"] == 2 and table.loc["fgm_l2", "broken"] == 4
    assert table.loc["clean", "width"] == pytest.approx(1 / 8)
    assert not table.loc["clean", "closed"] and table.loc["fgm_l2", "closed"]


def test_the_stage_writes_the_csv_and_the_markdown(tmp_path):
    source = tmp_path / "exact_summary.csv"
    summary().to_csv(source, index=False)
    outputs = {"csv": str(tmp_path / "t.csv"), "md": str(tmp_path / "t.md")}
    exact_table({"closed_width": 0.01}, {"summaries": [str(source)]}, outputs)
    text = (tmp_path / "t.md").read_text()
    assert text.count("\n| gate |") == 2 and "| 0.125 |" in text and "| no |" in text
    assert len(pd.read_csv(outputs["csv"])) == 2
