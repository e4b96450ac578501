"""Configuration: schema validation plus the cross-field checks a schema cannot express.

Errors name the offending key (e.g. ``simulation.data.s``) so a user can fix the YAML directly.
"""

import math
from pathlib import Path

import jsonschema
import yaml

from advpretrain.core.errors import UserError
from advpretrain.workflow.studies import STUDIES, design_problems, point_config, study_points

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


class ConfigError(UserError, ValueError):
    """The configuration is invalid; the message names every offending key."""


def load_schema():
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _key(path):
    return ".".join(str(part) for part in path) or "(top level)"


def _semantic_errors(config):
    sim = config["simulation"]
    data, evaluation = sim["data"], sim["evaluation"]
    if data["s"] > data["d"]:
        yield "simulation.data.s", f"s = {data['s']} exceeds d = {data['d']}"
    if evaluation["heatmap_seed"] >= sim["seeds"]:
        yield ("simulation.evaluation.heatmap_seed",
               f"{evaluation['heatmap_seed']} is not below simulation.seeds = {sim['seeds']}")
    reference = evaluation["reference_attack"]
    if reference["eps"] not in evaluation["eps_grid"][reference["norm"]]:
        yield ("simulation.evaluation.reference_attack.eps",
               f"{reference['eps']} is not on eps_grid.{reference['norm']}")
    for key in ("eps_grid", "movement_eps_grid"):
        for norm, grid in evaluation["ensemble"][key].items():
            if set(grid) - set(evaluation["eps_grid"][norm]):
                yield (f"simulation.evaluation.ensemble.{key}.{norm}",
                       f"{sorted(set(grid) - set(evaluation['eps_grid'][norm]))} are not on "
                       f"eps_grid.{norm}")
        if reference["eps"] not in evaluation["ensemble"][key][reference["norm"]]:
            yield ("simulation.evaluation.reference_attack.eps",
                   f"{reference['eps']} is not on ensemble.{key}.{reference['norm']}")
    for norm, eps in evaluation["small_budgets"].items():
        if eps not in evaluation["ensemble"]["eps_grid"][norm]:
            yield (f"simulation.evaluation.small_budgets.{norm}",
                   f"{eps} is not on ensemble.eps_grid.{norm}")
    if reference["attack"] not in evaluation["attacks"]:
        yield ("simulation.evaluation.reference_attack.attack",
               f"{reference['attack']} is not in simulation.evaluation.attacks")
    clash = set(sim["pretrain_variants"]) & {f"sweep_{sim['eps_sweep']['norm']}_{v:g}"
                                             for v in sim["eps_sweep"]["values"]}
    if clash:
        yield "simulation.pretrain_variants", f"names {sorted(clash)} clash with eps_sweep names"
    yield from _contrastive_errors(sim["contrastive"])
    yield from _downstream_errors(sim)
    yield from _claims_errors(config["claims"], sim)
    yield from _images_errors(config["images"])


def _variant_errors(key, variants):
    for name, spec in variants.items():
        if "control" in spec and spec["eps"] != 0:
            yield f"{key}.{name}.eps", f"a control variant ({spec['control']}) must have eps 0"


def _contrastive_errors(section):
    variants = section["variants"]
    yield from _variant_errors("simulation.contrastive.variants", variants)
    for name in section["pair_attack_study"]:
        if name not in variants:
            yield ("simulation.contrastive.pair_attack_study",
                   f"{name!r} is not in simulation.contrastive.variants {sorted(variants)}")


def _downstream_errors(sim):
    variants = sim["pretrain_variants"]
    yield from _variant_errors("simulation.pretrain_variants", variants)
    end_to_end = sim["downstream"]["end_to_end"]["variant"]
    if end_to_end not in variants:
        yield ("simulation.downstream.end_to_end.variant",
               f"{end_to_end!r} is not in simulation.pretrain_variants {sorted(variants)}")
    for key, listed in (("activation_study.variants", sim["activation_study"]["variants"]),
                        ("threshold_study.variants", sim["threshold_study"]["variants"]),
                        ("evaluation.exact.variants", sim["evaluation"]["exact"]["variants"]),
                        ("evaluation.convergence.variants",
                         sim["evaluation"]["convergence"]["variants"])):
        unknown = [v for v in listed if v not in variants]
        if unknown:
            yield (f"simulation.{key}",
                   f"{unknown} are not in simulation.pretrain_variants {sorted(variants)}")


def _claims_errors(claims, sim):
    """The compared variants exist for both tasks; clean and controls are what they say."""
    roles = {"clean_variant": None, "adversarial_variant": None, "twin_variant": "twin",
             "untrained_variant": "untrained", "ideal_variant": "ideal"}
    for section, variants in (("simulation.pretrain_variants", sim["pretrain_variants"]),
                              ("simulation.contrastive.variants",
                               sim["contrastive"]["variants"])):
        for key, control in roles.items():
            name = claims[key]
            if name not in variants:
                yield f"claims.{key}", f"{name!r} is not in {section} {sorted(variants)}"
            elif variants[name].get("control") != control:
                kind = f"{control} control" if control else "trained"
                yield f"claims.{key}", f"{name!r} in {section} is not a {kind} variant"
        clean = variants.get(claims["clean_variant"], {})
        if clean.get("eps", 0) != 0:
            yield "claims.clean_variant", f"{claims['clean_variant']!r} in {section} has eps > 0"
    for key in ("clean_variant", "adversarial_variant"):
        if claims[key] not in sim["activation_study"]["variants"]:
            yield f"claims.{key}", f"{claims[key]!r} is not in simulation.activation_study.variants"
    known = {*sim["evaluation"]["attacks"], "worst_case", "certified"}
    unknown = set(claims["attacks"]) - known
    if unknown:
        yield "claims.attacks", f"{sorted(unknown)} are not among {sorted(known)}"


def _images_errors(images):
    for dataset, section in images.items():
        key = f"images.{dataset}"
        for stage in ("supervised", "contrastive", "linear"):
            milestones = section[stage]["schedule"].get("milestones", [])
            if list(milestones) != sorted(set(milestones)):
                yield (f"{key}.{stage}.schedule.milestones",
                       f"{milestones} is not strictly increasing")
        if section["runtime"]["device"] == "cuda" and section["resources"]["gpus"] < 1:
            yield f"{key}.resources.gpus", "is 0 but runtime.device is cuda"
        for task, labels in section["downstream"].items():
            if sorted(set(labels)) != list(range(max(labels) + 1)) or max(labels) < 1:
                yield (f"{key}.downstream.{task}",
                       f"{labels}: the labels must be 0, 1, ..., k - 1 with k >= 2, each used")
        evaluation = section["evaluation"]
        if evaluation["pgd"]["eps"] not in evaluation["eps_grid"]:
            yield (f"{key}.evaluation.eps_grid",
                   f"{evaluation['eps_grid']} lacks the reference eps {evaluation['pgd']['eps']}")
        low, high = section["augment"]["crop_scale"]
        if low > high:
            yield f"{key}.augment.crop_scale", f"[{low}, {high}] is not an interval"
        if dataset == "digits":
            data = section["data"]
            if data["validation_size"] + data["test_size"] > 1797 - 100:
                yield (f"{key}.data", "validation_size + test_size leave fewer than 100 of the "
                       "1797 images for training")


def _non_finite(value, path=()):
    """Paths of the NaN and infinite numbers in the config: a schema's minimum and maximum let
    NaN through (every comparison with it is false), and YAML reads `.nan` and `.inf`."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, (*path, index))
    elif isinstance(value, float) and not math.isfinite(value):
        yield path, value


def _schema_errors(config):
    """The schema's errors, less the knock-on ones: where a subschema of an ``allOf`` fails on
    one key, ``unevaluatedProperties`` also calls its sibling keys unexpected; an error below
    the unevaluated object already names what to fix."""
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = list(validator.iter_errors(config))
    paths = [tuple(error.absolute_path) for error in errors]

    def knock_on(error):
        path = tuple(error.absolute_path)
        return error.validator == "unevaluatedProperties" and any(
            len(other) > len(path) and other[:len(path)] == path for other in paths)

    kept = [error for error in errors if not knock_on(error)]
    return sorted(kept, key=lambda e: list(map(str, e.absolute_path)))


def _as_number(text, types):
    """``text`` read as the schema's number or integer, or None: a YAML 1.1 reader gives "1e-3"
    as a string, and Snakemake's --config gives nested values as strings."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    if "integer" in types and value.is_integer():
        return int(value)
    return value if "number" in types else None


def _coerce_numbers(config):
    """Replace, in place, each string where the schema wants a number by that number."""
    for error in _schema_errors(config):
        types = error.validator_value if error.validator == "type" else None
        types = [types] if isinstance(types, str) else types or []
        value = None
        if isinstance(error.instance, str) and error.absolute_path:
            value = _as_number(error.instance.strip(), types)
        if value is not None:
            *parents, last = error.absolute_path
            container = config
            for part in parents:
                container = container[part]
            container[last] = value


def _overlay_alone(config):
    """One line for an overlay given without its base config (most top-level sections missing)."""
    missing = [key for key in load_schema()["required"] if key not in config]
    if len(missing) > 1:
        return [f"the config lacks the sections {', '.join(missing)}: an overlay needs its base "
                "config first, e.g. --configfile config/config.yaml <overlay.yaml>"]
    return []


def _problems(config):
    problems = _overlay_alone(config)
    if problems:
        return problems
    _coerce_numbers(config)
    problems = [f"config key {_key(error.absolute_path)}: {error.message}"
                for error in _schema_errors(config)]
    problems += [f"config key {_key(path)}: {value} is not a finite number"
                 for path, value in _non_finite(config)]
    if not problems:
        problems = [f"config key {key}: {message}" for key, message in _semantic_errors(config)]
    return problems


def _study_problems(config, study):
    """A study's design is well formed, and every point's config is valid."""
    problems = list(design_problems(config, study))
    if problems:
        yield from problems
        return
    for name in study_points(config, study):
        try:
            point = point_config(config, name, study)
        except KeyError as error:
            yield f"config key {study} (point {name}): {error.args[0]}"
            continue
        yield from (f"{study} point {name}: {problem}" for problem in _problems(point))


def validate_config(config):
    """Raise ConfigError listing every invalid key (and those of every point of the
    sensitivity and mechanism studies); return the config otherwise, with each number written
    as a string (YAML 1.1's "1e-3", Snakemake's --config) turned into a number in place."""
    problems = _problems(config)
    if not problems:
        problems = [problem for study in STUDIES for problem in _study_problems(config, study)]
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config
