"""The studies (config ``sensitivity``, ``mechanism``; docs/sensitivity.md, docs/mechanism.md):
the claims pipeline run again at named points, each the config with some keys changed.

A study is a section of the config with ``cores``, ``runtime_minutes``, ``study`` (changes every
point takes) and its own design, which names the points and what each changes:

- ``sensitivity``: one axis at a time around the centre, and a seeded random design of joint
  changes. ``centre`` changes nothing, ``<axis>=<label>`` one axis (every key of the axis to its
  i-th value), ``joint<k>`` several axes at once.
- ``mechanism``: a full factorial grid of named levels, {factor: {level: {dotted key: value}}},
  optionally restricted to the combinations listed in ``points`` (a fractional design); a point
  is named ``<factor>=<level>,<factor>=<level>,...`` in the factors' order.

Every point also gets the study's own changes and runs the simulation branch only, with no study
of its own. Each point runs the whole claims pipeline (this Snakefile) in its own folder with its
own config: the rules are the paper's, nothing is a second pipeline. Torch-free: the Snakefile
imports it.
"""

from __future__ import annotations

import copy
import itertools
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

SENSITIVITY, MECHANISM = "sensitivity", "mechanism"
STUDIES = (SENSITIVITY, MECHANISM)
CENTRE = "centre"
# The point's run builds the claims table of the simulations: C6 is not what a study varies.
IMAGES_OFF = {"images.cifar10.enabled": False, "images.digits.enabled": False}


def label(value: Any) -> str:
    """A value as it appears in a point's name: 0.2, relu, 0.5-1."""
    if isinstance(value, list):
        return "-".join(label(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# The sensitivity study: the centre, one axis at a time, joint points.

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


def _sensitivity_points(config: Mapping) -> dict[str, dict[str, Any]]:
    study = config[SENSITIVITY]
    return {CENTRE: {}, **_axis_points(study["axes"]),
            **_joint_points(study, config["base_seed"])}


def point_axes(config: Mapping, changes: Mapping[str, Any]) -> dict[str, str]:
    """{axis: its label at the point} for the axes a point's changes move off the centre."""
    moved = {}
    for axis, keys in config[SENSITIVITY]["axes"].items():
        first = next(iter(keys))
        if first in changes:
            moved[axis] = label(changes[first])
    return moved


# The mechanism study: a factorial grid of named levels, or the listed combinations of it.

def point_name(levels: Mapping[str, str]) -> str:
    """A combination of levels as a point's name: budget=0.1,attack=fgm,threshold=absolute."""
    return ",".join(f"{factor}={level}" for factor, level in levels.items())


def parse_point(factors: Mapping, name: str) -> dict[str, str]:
    """{factor: level} of a listed point, in the factors' order; ValueError naming the point and
    what is wrong (an unknown factor or level, a factor set twice or not at all)."""
    levels = {}
    for part in name.split(","):
        factor, equals, level = part.partition("=")
        if not equals:
            raise ValueError(f"point {name!r}: {part!r} is not <factor>=<level>")
        if factor not in factors:
            raise ValueError(f"point {name!r}: {factor!r} is not a factor "
                             f"(factors: {', '.join(factors)})")
        if level not in factors[factor]:
            raise ValueError(f"point {name!r}: {level!r} is not a level of factor {factor} "
                             f"(levels: {', '.join(factors[factor])})")
        if factor in levels:
            raise ValueError(f"point {name!r}: factor {factor} is set twice")
        levels[factor] = level
    missing = [factor for factor in factors if factor not in levels]
    if missing:
        raise ValueError(f"point {name!r}: sets no level of factor(s) {', '.join(missing)}")
    return {factor: levels[factor] for factor in factors}


def point_levels(config: Mapping) -> dict[str, dict[str, str]]:
    """{point name: {factor: level}}: every combination of the factors' levels (the first
    factor varying slowest), or those listed in ``mechanism.points``, in their order."""
    study = config[MECHANISM]
    factors = study["factors"]
    if not factors:
        return {}
    if study.get("points") is not None:
        combinations = [parse_point(factors, name) for name in study["points"]]
    else:
        combinations = [dict(zip(factors, chosen, strict=True))
                        for chosen in itertools.product(*factors.values())]
    return {point_name(levels): levels for levels in combinations}


def _mechanism_points(config: Mapping) -> dict[str, dict[str, Any]]:
    factors = config[MECHANISM]["factors"]
    return {name: {key: value for factor, level in levels.items()
                   for key, value in factors[factor][level].items()}
            for name, levels in point_levels(config).items()}


DESIGNS = {SENSITIVITY: _sensitivity_points, MECHANISM: _mechanism_points}
# A point runs no study of its own.
NO_STUDY = {"sensitivity.axes": {}, "sensitivity.joint.points": 0, "mechanism.factors": {},
            "mechanism.points": None}


def study_points(config: Mapping, study: str = SENSITIVITY) -> dict[str, dict[str, Any]]:
    """{point name: {dotted key: value}} of a study, in its order."""
    return DESIGNS[study](config)


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


def point_config(config: Mapping, name: str, study: str = SENSITIVITY) -> dict:
    """The full config a point runs: the config, the study's changes, then the point's; no
    study of its own (a section the config lacks stays absent, ``mechanism.points`` too)."""
    point = copy.deepcopy(dict(config))
    for dotted, value in {**IMAGES_OFF, **config[study]["study"],
                          **study_points(config, study)[name]}.items():
        set_key(point, dotted, value)
    for dotted, value in NO_STUDY.items():
        section, key = dotted.split(".", 1)
        if section not in point:
            continue
        if value is None:
            point[section].pop(key, None)
        else:
            set_key(point, dotted, value)
    return point


def mechanism_variants(config: Mapping) -> list[str]:
    """The variants whose measures the mechanism study shows: the claims' clean, adversarial
    and ideal ones."""
    return [config["claims"][f"{role}_variant"] for role in ("clean", "adversarial", "ideal")]


def point_reference(config: Mapping, name: str, study: str) -> Mapping:
    """The reference attack of a point's claims (its norm and eps: the claims' budget)."""
    return point_config(config, name, study)["simulation"]["evaluation"]["reference_attack"]


def design_problems(config: Mapping, study: str):
    """Problems of a study's design that no point's config shows (the config's validation
    checks each point's config after these)."""
    section = config[study]
    if study == SENSITIVITY:
        for axis, keys in section["axes"].items():
            lengths = {len(values) for values in keys.values()}
            if len(lengths) > 1:
                yield (f"config key sensitivity.axes.{axis}: its keys' value lists differ in "
                       f"length ({sorted(lengths)})")
                return
        joint = section["joint"]
        if joint["points"] and joint["min_changes"] > len(section["axes"]):
            yield (f"config key sensitivity.joint.min_changes: {joint['min_changes']} exceeds "
                   f"the number of axes ({len(section['axes'])})")
        return
    setters = {}
    for factor, levels in section["factors"].items():
        for key in dict.fromkeys(key for changes in levels.values() for key in changes):
            setters.setdefault(key, []).append(factor)
    for key, factors in setters.items():
        if len(factors) > 1:
            yield (f"config key mechanism.factors: {key} is set by more than one factor "
                   f"({', '.join(factors)}): a point's value would depend on their order")
    seen = set()
    for name in section.get("points") or []:
        try:
            levels = parse_point(section["factors"], name)
        except ValueError as error:
            yield f"config key mechanism.points: {error.args[0]}"
            continue
        if point_name(levels) in seen:
            yield f"config key mechanism.points: point {name!r} is listed more than once"
        seen.add(point_name(levels))


# The rules a point's run goes through (its claims DAG): the point job's code param
# fingerprints their scripts, so a changed statement in any of them reruns the points, whose own
# Snakemake then reruns what it changes.
POINT_RULES = ("sparse_coding_data", "pretrain", "evaluate_pretrained", "exact_verification",
               "attack_convergence", "node_movement", "evaluate_pair_loss", "pair_attack_study",
               "downstream", "downstream_baselines", "downstream_blend", "claims")
POINT_TARGET = "results/claims.csv"
# The mechanism study's measures of each point (docs/mechanism.md), copied beside its claims
# table: output name -> the point run's file ({activation}: the point's network activation).
MECHANISM_TABLES = {f"{task}_{table}": f"results/simulation/{task}/{{activation}}/{table}.csv"
                    for task in ("supervised", "contrastive")
                    for table in ("summary", "downstream")}
# The checkout's own Snakefile, found from the package (not a param: a moved checkout must not
# rerun the points).
SNAKEFILE = Path(__file__).resolve().parents[2] / "Snakefile"


def study_point(settings: Mapping, inputs: Mapping, outputs: Mapping, threads: int) -> dict:
    """Run the claims pipeline at one point of a study: its config in ``<point>/run/config.yaml``,
    the Snakefile's own rules in that folder (incremental: a rerun redoes what changed), its
    claims table copied to ``outputs["claims"]`` (and, where ``outputs`` names them, the
    ``MECHANISM_TABLES``). The inner run's output goes to this job's log."""
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
    activation = settings["config"]["simulation"]["network"]["activation"]
    copies = {"claims": POINT_TARGET, **MECHANISM_TABLES}
    for name, path in copies.items():
        if name in outputs:
            Path(outputs[name]).write_bytes((run_dir / path.format(activation=activation))
                                            .read_bytes())
    print(f"point {settings['point']} done in {wall:.0f} s", flush=True)
    return {"wall_s": round(wall, 1)}


def sensitivity_point(settings: Mapping, inputs: Mapping, outputs: Mapping, threads: int) -> dict:
    """Stage of rule sensitivity_point: the claims pipeline at a point of the sensitivity study."""
    return study_point(settings, inputs, outputs, threads)


def mechanism_point(settings: Mapping, inputs: Mapping, outputs: Mapping, threads: int) -> dict:
    """Stage of rule mechanism_point: the claims pipeline at a point of the mechanism study."""
    return study_point(settings, inputs, outputs, threads)


def _plain(value: Any) -> Any:
    """Settings (canonical dicts, tuples) as plain YAML types."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
