"""The sensitivity study's points (config ``sensitivity``, docs/sensitivity.md).

A point is the config with some keys changed: ``centre`` changes none, ``<axis>=<label>``
changes one axis (every key of the axis to its i-th value), ``joint<k>`` changes several axes
at once, drawn by a seeded random design. Every point also gets the study's own changes
(``sensitivity.study``: cheaper settings, the same at every point, the centre included) and
runs the simulation branch only. Each point runs the whole claims pipeline (this Snakefile) in
its own folder with its own config: the rules are the paper's, nothing is a second pipeline.
Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

import copy
import random
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from advpretrain.core.canonical import plain
from advpretrain.core.errors import UserError
from advpretrain.core.seeding import derive_seed

CENTRE = "centre"
# The point's run builds the claims table of the simulations: C6 is not what the study varies.
IMAGES_OFF = {"images.cifar10.enabled": False, "images.digits.enabled": False}
# A point runs no study of its own.
NO_STUDY = {"sensitivity.axes": {}, "sensitivity.joint.points": 0}


def label(value: Any) -> str:
    """A value as it appears in a point's name: 0.2, relu, 0.5-1."""
    if isinstance(value, list):
        return "-".join(label(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _axis_points(axes: Mapping) -> dict[str, dict[str, Any]]:
    points = {}
    for axis, keys in axes.items():
        first, *_ = keys
        for index, value in enumerate(keys[first]):
            points[f"{axis}={label(value)}"] = {key: values[index] for key, values in keys.items()}
    return points


def _joint_points(study: Mapping, base_seed: int) -> dict[str, dict[str, Any]]:
    """``joint.points`` points, each axis at its centre or one of its values (equally likely),
    at least ``joint.min_changes`` axes off the centre; seeded by base_seed and the point."""
    axes, joint = study["axes"], study["joint"]
    if len(axes) < joint["min_changes"]:
        return {}
    points = {}
    for number in range(1, joint["points"] + 1):
        draw = random.Random(derive_seed(base_seed, "sensitivity", "joint", number))
        while True:
            choices = {axis: draw.randrange(len(next(iter(keys.values()))) + 1)
                       for axis, keys in axes.items()}
            if sum(choice > 0 for choice in choices.values()) >= joint["min_changes"]:
                break
        points[f"joint{number}"] = {key: values[choice - 1]
                                    for axis, choice in choices.items() if choice
                                    for key, values in axes[axis].items()}
    return points


def study_points(config: Mapping) -> dict[str, dict[str, Any]]:
    """{point name: {dotted key: value}}: the centre, the axes' points, the joint points."""
    study = config["sensitivity"]
    return {CENTRE: {}, **_axis_points(study["axes"]),
            **_joint_points(study, config["base_seed"])}


def point_axes(config: Mapping, changes: Mapping[str, Any]) -> dict[str, str]:
    """{axis: its label at the point} for the axes a point's changes move off the centre."""
    moved = {}
    for axis, keys in config["sensitivity"]["axes"].items():
        first = next(iter(keys))
        if first in changes:
            moved[axis] = label(changes[first])
    return moved


def set_key(config: dict, dotted: str, value: Any) -> None:
    """Set an existing key of a nested config; KeyError naming the key if it is not one."""
    *parents, last = dotted.split(".")
    node = config
    for part in parents:
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{dotted}: {part!r} is not a key of the config")
        node = node[part]
    if not isinstance(node, dict) or last not in node:
        raise KeyError(f"{dotted}: {last!r} is not a key of the config")
    node[last] = copy.deepcopy(value)


def point_config(config: Mapping, name: str) -> dict:
    """The full config a point runs: the config, the study's changes, then the point's."""
    point = copy.deepcopy(dict(config))
    for dotted, value in {**IMAGES_OFF, **config["sensitivity"]["study"],
                          **study_points(config)[name], **NO_STUDY}.items():
        set_key(point, dotted, value)
    return point


# The rules a point's run goes through (its claims DAG): the point job's code param
# fingerprints their scripts, so a changed statement in any of them reruns the points, whose own
# Snakemake then reruns what it changes.
POINT_RULES = ("sparse_coding_data", "pretrain", "evaluate_pretrained", "exact_verification",
               "attack_convergence", "node_movement", "evaluate_pair_loss", "pair_attack_study",
               "downstream", "downstream_baselines", "downstream_blend", "claims")
POINT_TARGET = "results/claims.csv"
# The checkout's own Snakefile, found from the package (not a param: a moved checkout must not
# rerun the points).
SNAKEFILE = Path(__file__).resolve().parents[2] / "Snakefile"


def sensitivity_point(settings: Mapping, inputs: Mapping, outputs: Mapping, threads: int) -> dict:
    """Run the claims pipeline at one point: its config in ``<point>/run/config.yaml``, the
    Snakefile's own rules in that folder (incremental: a rerun redoes what changed), its
    claims table copied to ``outputs["claims"]``. The inner run's output goes to this job's log."""
    run_dir = Path(outputs["claims"]).parent / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "config.yaml"
    config_path.write_text(yaml.safe_dump(_plain(plain(settings["config"])), sort_keys=True))
    command = [sys.executable, "-m", "snakemake", POINT_TARGET, "--snakefile", str(SNAKEFILE),
               "--directory", str(run_dir), "--cores", str(threads),
               "--configfile", str(config_path.resolve())]
    print("running:", " ".join(command), flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, stdout=sys.stdout, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - started
    if result.returncode:
        raise UserError(f"the run of point {settings['point']} failed (exit {result.returncode});"
                        f" its Snakemake log is above, its files in {run_dir}")
    Path(outputs["claims"]).write_bytes((run_dir / POINT_TARGET).read_bytes())
    print(f"point {settings['point']} done in {wall:.0f} s", flush=True)
    return {"wall_s": round(wall, 1)}


def _plain(value: Any) -> Any:
    """Settings (canonical dicts, tuples) as plain YAML types."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
