"""Vectorised multi-network trainer vs a plain loop training the same networks one at a time.

Same sizes, steps, data and attacks: the batched job trains every variant x seed of the config's
supervised pre-training at once; the loop trains each (variant, seed) network alone through the
same code. Usage:
    python -m benchmarks.simulation_speed --config config/config.yaml --steps 300 --out X.json
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from advpretrain.core.seeding import derive_seed, numpy_rng, torch_generator
from advpretrain.model.networks import seed_of_network
from advpretrain.model.sparse_coding import DataModel, make_dataset
from advpretrain.model.tasks import TASKS
from advpretrain.model.training import train_networks
from advpretrain.simulation import jobs as simulation
from advpretrain.workflow import params as settings
from benchmarks.common import write_result


def synthetic_data(config):
    """The config's data sets, made in memory (stacked over seeds as load_data would)."""
    data = config["simulation"]["data"]
    model = DataModel(d=data["d"], s=data["s"], sigma=data["sigma"], magnitudes=data["magnitudes"])
    per_seed = [make_dataset(model, data["sizes"], numpy_rng(derive_seed(config["base_seed"],
                                                                         "data", seed)))
                for seed in range(config["simulation"]["seeds"])]
    return {name: torch.from_numpy(np.stack([d[name] for d in per_seed]))
            for name in per_seed[0]}


def train(stage, data, variants, steps):
    """One batched job over ``variants`` x the seeds present in ``data``; returns seconds.

    stage: the supervised pre-training job's settings (``advpretrain.workflow.params.pretrain``)."""
    n_seeds = data["pretrain_train_y"].shape[0]
    generator = torch_generator(0)
    nets = simulation.initial_networks(stage["architecture"], n_seeds, variants, generator,
                                       torch_generator(1))
    task = TASKS["supervised"]
    inputs, labels = task.inputs(data, "train")
    adversary = simulation.job_adversary(variants, n_seeds)
    start = time.perf_counter()
    train_networks(nets, simulation.minibatch_sampler(
        inputs, labels, seed_of_network(n_seeds * len(variants), n_seeds),
        stage["training"]["batch"]), task.loss, adversary, steps=steps,
        lr=stage["training"]["lr"], generator=generator, log_every=steps + 1,
        trained=simulation.trained_mask(variants, n_seeds))
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/simulation_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    n_seeds = config["simulation"]["seeds"]
    data = synthetic_data(config)
    stage = settings.pretrain(config, "supervised", config["simulation"]["network"]["activation"])
    variants = stage["variants"]

    batched = train(stage, data, variants, args.steps)
    one_at_a_time = sum(
        train(stage, {name: tensor[seed:seed + 1] for name, tensor in data.items()}, [variant],
              args.steps)
        for variant in variants for seed in range(n_seeds))
    write_result(args.out, {
        "networks": len(variants) * n_seeds, "steps": args.steps,
        "batched_seconds": round(batched, 3), "one_at_a_time_seconds": round(one_at_a_time, 3),
        "speedup": round(one_at_a_time / batched, 2),
        "batched_seconds_per_1000_steps": round(1000 * batched / args.steps, 2)})


if __name__ == "__main__":
    main()
