import copy

import pytest
import yaml
from conftest import TEST_CONFIG, run_snakemake

from advpretrain.core.activations import ACTIVATION_NAMES
from advpretrain.model.networks import ACTIVATIONS
from advpretrain.workflow.config import ConfigError, load_schema, validate_config


@pytest.mark.parametrize("path, value, key", [
    (("simulation", "network", "activation"), "sigmoid", "simulation.network.activation"),
    (("simulation", "pretrain_variants", "fgm_l2", "eps"), -0.5,
     "simulation.pretrain_variants.fgm_l2.eps"),
    (("simulation", "data", "s"), 99, "simulation.data.s"),
    (("simulation", "seeds"), 0, "simulation.seeds"),
    (("simulation", "training", "lr"), "fast", "simulation.training.lr"),
    (("simulation", "evaluation", "heatmap_seed"), 50, "simulation.evaluation.heatmap_seed"),
    (("simulation", "evaluation", "reference_attack", "eps"), 0.33,
     "simulation.evaluation.reference_attack.eps"),
])
def test_bad_values_name_their_key(test_config, path, value, key):
    config = copy.deepcopy(test_config)
    node = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=f"config key {key}"):
        validate_config(config)


def test_unknown_key_is_refused(test_config):
    test_config["simulation"]["training"]["epochs"] = 3
    with pytest.raises(ConfigError, match="epochs"):
        validate_config(test_config)


def test_workflow_stops_before_any_job_on_a_bad_config(tmp_path, test_config):
    test_config["simulation"]["data"]["s"] = 1000
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(test_config))
    result = run_snakemake(tmp_path, configfile=bad, check=False)
    assert result.returncode != 0
    assert "config key simulation.data.s" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("path, value", [
    (("simulation", "data", "sigma"), float("nan")),
    (("simulation", "training", "lr"), float("inf")),
    (("simulation", "evaluation", "eps_grid", "l2"), [0.0, float("-inf")]),
    (("images", "digits", "augment", "crop_scale"), [float("nan"), 1.0]),
])
def test_non_finite_numbers_are_refused_by_key(test_config, path, value):
    node = test_config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=f"config key {'.'.join(path)}.*not a finite number"):
        validate_config(test_config)


def test_yaml_nan_is_refused(test_config, tmp_path):
    """`.nan` and `.inf` as YAML writes them, read back the way the workflow reads config."""
    test_config["simulation"]["data"]["sigma"] = float("nan")
    read = yaml.safe_load(yaml.safe_dump(test_config))
    with pytest.raises(ConfigError, match="simulation.data.sigma: nan is not a finite number"):
        validate_config(read)


def test_one_bad_key_is_the_only_error(test_config):
    """A bad key inside an ``allOf`` branch (images.cifar10.data) is reported alone, without
    the schema's knock-on "Unevaluated properties ... ('data' was unexpected)"."""
    test_config["images"]["cifar10"]["data"]["archive_md5"] = "not-an-md5"
    with pytest.raises(ConfigError) as raised:
        validate_config(test_config)
    problems = str(raised.value).splitlines()[1:]
    assert len(problems) == 1, problems
    assert problems[0].strip().startswith("config key images.cifar10.data.archive_md5:")


def test_unexpected_key_beside_a_branch_is_still_refused(test_config):
    test_config["images"]["cifar10"]["colour"] = "blue"
    with pytest.raises(ConfigError, match=r"config key images.cifar10: .*'colour' was unexpected"):
        validate_config(test_config)


def test_numbers_written_as_strings_are_read_as_numbers(test_config, tmp_path):
    """YAML 1.1 reads `lr: 1e-3` as a string, Snakemake's --config hands nested values over as
    strings: where the schema wants a number, a string that reads as one is that number."""
    test_config["simulation"]["training"]["lr"] = "1e-3"
    test_config["simulation"]["seeds"] = "2"
    test_config["simulation"]["evaluation"]["eps_grid"]["l2"][0] = " 0.05 "
    validate_config(test_config)
    assert test_config["simulation"]["training"]["lr"] == 0.001
    assert test_config["simulation"]["seeds"] == 2 and isinstance(
        test_config["simulation"]["seeds"], int)
    assert test_config["simulation"]["evaluation"]["eps_grid"]["l2"][0] == 0.05
    # What does not read as the schema's type is still refused by its key.
    test_config["simulation"]["seeds"] = "2.5"
    with pytest.raises(ConfigError, match="config key simulation.seeds: '2.5' is not of type"):
        validate_config(test_config)


def test_a_number_on_snakemake_s_command_line_is_accepted(tmp_path):
    result = run_snakemake(tmp_path, "--dry-run", "--config",
                           "simulation={training: {lr: 0.5}}", check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "This was a dry-run" in result.stdout


def test_an_overlay_given_alone_is_refused_in_one_line():
    overlay = yaml.safe_load(open(TEST_CONFIG.parent / "cpu_only.yaml"))
    with pytest.raises(ConfigError) as refused:
        validate_config(overlay)
    lines = str(refused.value).splitlines()
    assert len(lines) == 2 and "--configfile config/config.yaml <overlay.yaml>" in lines[1]


def test_the_schema_s_activations_are_the_package_s():
    """The schema enumerates the activation names itself (it reads no Python): they must be
    ``core.activations``' names, in its order, and the model must hold one function each."""
    simulation = load_schema()["properties"]["simulation"]["properties"]
    main = simulation["network"]["properties"]["activation"]["enum"]
    study = simulation["activation_study"]["properties"]["activations"]["items"]["enum"]
    assert tuple(main) == tuple(study) == ACTIVATION_NAMES
    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES, "one function per name of core.activations"
