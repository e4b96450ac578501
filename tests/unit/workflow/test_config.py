import copy

import pytest
import yaml
from conftest import run_snakemake

from advpretrain.workflow.config import ConfigError, validate_config


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
