"""Vectorised multi-network trainer vs a plain loop training the same networks one at a time.

Same sizes, steps, data and attacks: the batched job trains every variant x seed of the config's
supervised pre-training at once; the loop trains each (variant, seed) network alone through the
same code. Usage:
    python benchmarks/simulation_speed.py --config config/config.yaml --steps 300 --out X.json
"""

import argparse
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from advpretrain import simulation  # noqa: E402
from advpretrain.seeding import derive_seed, numpy_rng, torch_generator  # noqa: E402
from advpretrain.sparse_coding import DataModel, make_dataset  # noqa: E402
from advpretrain.training import train_networks  # noqa: E402
from common import write_result  # noqa: E402


def synthetic_data(config):
    """The config's data sets, made in memory (stacked over seeds as load_data would)."""
    data = config["simulation"]["data"]
    model = DataModel(d=data["d"], s=data["s"], sigma=data["sigma"], magnitudes=data["magnitudes"])
    per_seed = [make_dataset(model, data["sizes"], numpy_rng(derive_seed(config["base_seed"],
                                                                         "data", seed)))
                for seed in range(config["simulation"]["seeds"])]
    return {name: torch.from_numpy(__import__("numpy").stack([d[name] for d in per_seed]))
            for name in per_seed[0]}


def train(sim, data, variants, steps):
    """One batched job over ``variants`` x the seeds present in ``data``; returns seconds."""
    n_seeds = data["pretrain_train_y"].shape[0]
    sim = {**sim, "seeds": n_seeds}
    generator = torch_generator(0)
    nets = simulation.build_networks(sim, sim["network"]["activation"], len(variants), generator)
    seed_of_network = torch.arange(n_seeds * len(variants)) % n_seeds
    task = simulation.TASKS["supervised"]
    inputs, labels = task.inputs(data, "train")

    adversary = simulation.job_adversary(variants, n_seeds)
    start = time.perf_counter()
    train_networks(nets, simulation.minibatch_sampler(inputs, labels, seed_of_network,
                                                      sim["training"]["batch"]),
                   task.loss, adversary, steps=steps, lr=sim["training"]["lr"],
                   generator=generator, log_every=steps + 1)
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
    sim = config["simulation"]
    data = synthetic_data(config)
    variants = simulation.variant_table(sim)

    batched = train(sim, data, variants, args.steps)
    one_at_a_time = sum(
        train(sim, {name: tensor[seed:seed + 1] for name, tensor in data.items()}, [variant],
              args.steps)
        for variant in variants for seed in range(sim["seeds"]))
    write_result(args.out, {
        "networks": len(variants) * sim["seeds"], "steps": args.steps,
        "batched_seconds": round(batched, 3), "one_at_a_time_seconds": round(one_at_a_time, 3),
        "speedup": round(one_at_a_time / batched, 2),
        "batched_seconds_per_1000_steps": round(1000 * batched / args.steps, 2)})


if __name__ == "__main__":
    main()
