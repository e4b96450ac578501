"""Configuration: schema validation plus the cross-field checks a schema cannot express.

Errors name the offending key (e.g. ``simulation.data.s``) so a user can fix the YAML directly.
"""

from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    pass


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
    if reference["attack"] not in evaluation["attacks"]:
        yield ("simulation.evaluation.reference_attack.attack",
               f"{reference['attack']} is not in simulation.evaluation.attacks")
    clash = set(sim["pretrain_variants"]) & {f"sweep_{sim['eps_sweep']['norm']}_{v:g}"
                                             for v in sim["eps_sweep"]["values"]}
    if clash:
        yield "simulation.pretrain_variants", f"names {sorted(clash)} clash with eps_sweep names"
    yield from _cifar_errors(config["cifar"])


def _cifar_errors(cifar):
    for stage in ("supervised", "contrastive", "linear"):
        milestones = cifar[stage].get("milestones", [])
        if list(milestones) != sorted(set(milestones)):
            yield f"cifar.{stage}.milestones", f"{milestones} is not strictly increasing"
    if cifar["runtime"]["device"] == "cuda" and cifar["resources"]["gpus"] < 1:
        yield "cifar.resources.gpus", "is 0 but cifar.runtime.device is cuda"


def validate_config(config):
    """Raise ConfigError listing every invalid key; return the config unchanged otherwise."""
    validator = jsonschema.Draft202012Validator(load_schema())
    problems = [f"config key {_key(error.absolute_path)}: {error.message}"
                for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))]
    if not problems:
        problems = [f"config key {key}: {message}" for key, message in _semantic_errors(config)]
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config


def load_config(path):
    return validate_config(yaml.safe_load(Path(path).read_text()))
