"""The simulation stages that the workflow's scripts call: data, pre-training, evaluation.

Networks of one job are stacked variant-major: network i is variant i // S on seed i % S, where
S is the number of seeds. Variants of the same seed share data, initialisation and minibatches.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import fileio
from .config import pretraining_section
from .fileio import fingerprint
from .measures import feature_coefficients, node_measures, robustness_grid
from .networks import TwoLayerNets, logistic_loss
from .seeding import derive_seed, numpy_rng, torch_generator
from .sparse_coding import DataModel, make_dataset
from .training import Adversary, train_networks


def job_variants(config, task_name, activation):
    """Variants one pre-training job trains: all of them for the main activation, the activation
    study's subset (simulation.activation_study.variants) for the other activations. Contrastive
    tasks take theirs from simulation.contrastive (contrastive_variants)."""
    sim = config["simulation"]
    table = variant_table(sim)
    if task_name in CONTRASTIVE_TASKS and "contrastive" in sim:
        table = contrastive_variants(sim["contrastive"], task_name)
    if activation == sim["network"]["activation"] or "activation_study" not in sim:
        return table
    keep = sim["activation_study"]["variants"]
    return [v for v in table if v["variant"] in keep]


def contrastive_variants(section, task_name):
    """Variants of a contrastive job (simulation.contrastive): the main ones, or for a pair-attack
    study task the listed adversarial ones with the training attack on one pair type only."""
    table = [{"variant": name, **spec, "members": section["members"]}
             for name, spec in section["variants"].items()]
    if task_name in PAIR_ATTACK_TASKS:
        table = [{**v, "pairs": PAIR_ATTACK_TASKS[task_name]} for v in table
                 if v["variant"] in section["pair_attack_study"]]
    return table


def variant_table(sim):
    """Pre-training variants (name, norm, eps): the configured ones, then the eps sweep."""
    table = [{"variant": name, **spec} for name, spec in sim["pretrain_variants"].items()]
    sweep = sim["eps_sweep"]
    table += [{"variant": f"sweep_{sweep['norm']}_{eps:g}", "norm": sweep["norm"], "eps": eps}
              for eps in sweep["values"]]
    return table


# ---------------------------------------------------------------- data

def make_data(config, seed_index, out_path, meta_path):
    data = config["simulation"]["data"]
    seed = derive_seed(config["base_seed"], "data", seed_index)
    model = DataModel(d=data["d"], s=data["s"], sigma=data["sigma"], magnitudes=data["magnitudes"])
    arrays = make_dataset(model, data["sizes"], numpy_rng(seed), data["similar_share"])
    fileio.save_arrays(out_path, arrays)
    fileio.write_json(meta_path, fileio.provenance(
        {"seed_index": seed_index, "seed": seed}, data, [out_path]))


def load_data(paths):
    """Stack the per-seed data files into tensors of shape (S, n, ...)."""
    per_seed = [fileio.load_arrays(path) for path in paths]
    return {name: torch.from_numpy(np.stack([arrays[name] for arrays in per_seed]))
            for name in per_seed[0]}


# ---------------------------------------------------------------- tasks

@dataclass
class Supervised:
    """Logistic loss on Y f(Z); inputs (Z,)."""

    prefix = "pretrain"

    def inputs(self, data, split):
        return (data[f"{self.prefix}_{split}_z"],), data[f"{self.prefix}_{split}_y"]

    @staticmethod
    def margin(nets, z):
        return nets(z)

    def loss(self, nets, *inputs_and_labels):
        *inputs, labels = inputs_and_labels
        return logistic_loss(labels * self.margin(nets, *inputs))


@dataclass
class Contrastive(Supervised):
    """Logistic loss on Y s(Z, Z'); inputs (Z, Z'), Y = +1 similar, -1 dissimilar."""

    prefix = "pairs"

    def inputs(self, data, split):
        return ((data[f"pairs_{split}_z1"], data[f"pairs_{split}_z2"]), data[f"pairs_{split}_y"])

    @staticmethod
    def margin(nets, z1, z2):
        return nets.score(z1, z2)

    def log_measures(self, nets, inputs, labels, sim):
        """Similar / dissimilar pair losses, clean and under FGM, logged during training."""
        from .contrastive import pair_loss_rows  # here: advpretrain.contrastive imports this module

        return pair_loss_rows(nets, self, inputs, labels, sim["contrastive"]["track_eps"])


# Pair-attack study (beyond the paper): contrastive jobs whose training attack hits one pair type
# only; they start from the main contrastive job's initialisation and minibatches (same seed).
PAIR_ATTACK_TASKS = {"contrastive_attack_similar": "similar",
                     "contrastive_attack_dissimilar": "dissimilar"}
CONTRASTIVE_TASKS = ("contrastive", *PAIR_ATTACK_TASKS)
TASKS = {"supervised": Supervised(), **{name: Contrastive() for name in CONTRASTIVE_TASKS}}


def seed_task(task_name):
    """The task name a job's initialisation and minibatch seed derives from."""
    return "contrastive" if task_name in PAIR_ATTACK_TASKS else task_name


def per_network(tensors, seed_of_network):
    """Expand per-seed tensors (S, ...) to per-network ones (N, ...)."""
    return tuple(t[seed_of_network] for t in tensors)


def minibatch_sampler(inputs, labels, seed_of_network, batch):
    """A function drawing one minibatch per seed, shared by the networks of that seed."""
    n_seeds, n = labels.shape
    rows = torch.arange(n_seeds)[:, None]

    def sample(generator):
        index = torch.randint(n, (n_seeds, batch), generator=generator)
        picked = tuple(x[rows, index] for x in inputs)
        return per_network(picked, seed_of_network), labels[rows, index][seed_of_network]

    return sample


def build_networks(sim, activation, n_variants, generator):
    """Networks for every variant and seed; variants of a seed share their initialisation."""
    net, data = sim["network"], sim["data"]
    weight, head = TwoLayerNets.initial_parameters(
        sim["seeds"], net["hidden"], data["d"], net["init_scale"], generator)
    return TwoLayerNets(weight.repeat(n_variants, 1, 1), head.repeat(n_variants, 1), activation,
                        net["threshold"], net["score_scale"])


# ---------------------------------------------------------------- pre-training

def pretrain(config, data_paths, task_name, activation, model_path, log_path, meta_path,
             resume_path=None, variants=None):
    sim = config["simulation"]
    task = TASKS[task_name]
    variants = variants if variants is not None else variant_table(sim)
    n_seeds, n_variants = sim["seeds"], len(variants)
    seed_of_network = torch.arange(n_seeds * n_variants) % n_seeds
    seed = derive_seed(config["base_seed"], "pretrain", seed_task(task_name), activation)
    generator = torch_generator(seed)
    nets = build_networks(sim, activation, n_variants, generator)

    data = load_data(data_paths)
    inputs, labels = task.inputs(data, "train")
    test_inputs, test_labels = task.inputs(data, "test")
    test_inputs = per_network(test_inputs, seed_of_network)
    test_labels = test_labels[seed_of_network]

    train = sim["training"]
    adversary = job_adversary(variants, n_seeds, train["attack_steps"])

    def test_loss(step, nets):
        losses = task.loss(nets, *test_inputs, test_labels)
        rows = [{"kind": "test_loss", "values": losses.mean(-1).tolist()}]
        if hasattr(task, "log_measures") and "contrastive" in sim:
            rows += task.log_measures(nets, test_inputs, test_labels, sim)
        return rows

    section = {"base_seed": config["base_seed"], "simulation": pretraining_section(sim),
               "variants": variants}
    rows = train_networks(
        nets, minibatch_sampler(inputs, labels, seed_of_network, train["batch"]),
        task.loss, adversary, steps=train["steps"], lr=train["lr"], generator=generator,
        label=f"pretrain {task_name}/{activation}", log_every=train["log_every"],
        callback=test_loss, resume_path=resume_path, resume_every=train["resume_every"],
        fingerprint=fingerprint(section))

    fileio.save_torch(model_path, {
        "weight": nets.weight.detach(), "head": nets.head.detach(),
        "variants": [v["variant"] for v in variants], "n_seeds": n_seeds,
        "activation": activation, "task": task_name, "fingerprint": fingerprint(section)})
    fileio.write_csv(log_path, training_log_frame(rows, variants, n_seeds))
    fileio.write_json(meta_path, fileio.provenance(
        {"torch_seed": seed, "data_seeds": [str(p) for p in data_paths]}, section,
        [model_path, log_path]))


def job_adversary(variants, n_seeds, attack_steps=1):
    """The training attack of a job's variant-major networks (budget 0: clean training)."""
    def budgets(norm):
        return torch.tensor([v["eps"] if v["norm"] == norm else 0.0 for v in variants]
                            ).repeat_interleave(n_seeds)

    return Adversary(eps_l2=budgets("l2"), eps_linf=budgets("linf"), steps=attack_steps,
                     **variants_attack_options(variants))


def variants_attack_options(variants):
    """Contrastive attack options (which pairs, which members) shared by a job's variants."""
    options = {key: {v.get(key, default) for v in variants}
               for key, default in (("pairs", "all"), ("members", "both"))}
    for key, values in options.items():
        if len(values) > 1:
            raise ValueError(f"variants of one job must share '{key}', got {sorted(values)}")
    return {key: values.pop() for key, values in options.items()}


def training_log_frame(rows, variants, n_seeds):
    records = []
    for row in rows:
        extra = {key: value for key, value in row.items()
                 if key not in ("step", "kind", "values")}  # e.g. pair_type, norm, eps
        for i, value in enumerate(row["values"]):
            records.append({"step": row["step"], "kind": row["kind"],
                            "variant": variants[i // n_seeds]["variant"], "seed": i % n_seeds,
                            "value": value, **extra})
    return pd.DataFrame.from_records(records)


def load_networks(model_path, config, variants=None):
    """Pre-trained networks, refusing a file made with another configuration."""
    stored = fileio.load_torch(model_path)
    sim = config["simulation"]
    variants = variants if variants is not None else variant_table(sim)
    expected = fingerprint({"base_seed": config["base_seed"],
                            "simulation": pretraining_section(sim),
                            "variants": variants})
    if stored["fingerprint"] != expected:
        raise ValueError(f"{model_path} was made with another configuration "
                         f"({stored['fingerprint']} != {expected}); rerun its pre-training rule")
    nets = TwoLayerNets(stored["weight"], stored["head"], stored["activation"],
                        sim["network"]["threshold"], sim["network"]["score_scale"])
    return nets, stored


# ---------------------------------------------------------------- evaluation

def label_columns(variants, n_seeds, **fixed):
    """Frame of (variant, train_norm, train_eps, seed) for each network, plus fixed columns."""
    return pd.DataFrame({
        **fixed,
        "variant": [v["variant"] for v in variants for _ in range(n_seeds)],
        "train_norm": [v["norm"] for v in variants for _ in range(n_seeds)],
        "train_eps": [v["eps"] for v in variants for _ in range(n_seeds)],
        "seed": [s for _ in variants for s in range(n_seeds)],
    })


def evaluate_nodes(nets, data, variants, n_seeds, dead_relative_norm, labels):
    """Per-node measures (tidy) and the coefficient matrices C = W M."""
    seed_of_network = torch.arange(len(variants) * n_seeds) % n_seeds
    dictionary = data["dictionary"][seed_of_network]
    with torch.no_grad():
        coefficients = feature_coefficients(nets.weight, dictionary)
        measures = node_measures(coefficients, dead_relative_norm)
    base = label_columns(variants, n_seeds, **labels)
    hidden = coefficients.shape[1]
    frame = base.loc[base.index.repeat(hidden)].reset_index(drop=True)
    frame["node"] = np.tile(np.arange(hidden), len(base))
    for name, values in measures.items():
        frame[name] = values.reshape(-1).numpy()
    frame["dead"] = frame["dead"].astype(bool)
    return frame, coefficients


def evaluate_robustness(nets, task, data, variants, n_seeds, evaluation, generator, labels):
    seed_of_network = torch.arange(len(variants) * n_seeds) % n_seeds
    inputs, targets = task.inputs(data, "test")
    inputs, targets = per_network(inputs, seed_of_network), targets[seed_of_network]
    base = label_columns(variants, n_seeds, **labels)
    frames = []
    for row in robustness_grid(lambda *x: task.loss(nets, *x), lambda *x: task.margin(nets, *x),
                               inputs, targets, evaluation["eps_grid"], evaluation["attacks"],
                               evaluation["pgd_steps"], generator):
        frame = base.copy()
        for key in ("attack", "norm", "eps"):
            frame[key] = row[key]
        frame["accuracy"] = row["accuracy"].numpy()
        frame["loss"] = row["loss"].numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def summarise_nodes(nodes):
    """One row per network and measure: the mean over live nodes, and the dead-node share."""
    keys = [c for c in ("task", "activation", "variant", "train_norm", "train_eps", "seed")
            if c in nodes.columns]
    live = nodes[~nodes["dead"]]
    summary = live.groupby(keys)[["purity", "participation_ratio", "feature_count"]].mean()
    summary["dead_share"] = nodes.groupby(keys)["dead"].mean()
    return summary.reset_index().melt(id_vars=keys, var_name="measure", value_name="value")


def coefficient_frame(coefficients, variants, n_seeds, seed_index):
    """|C| of one seed for every variant, long format, for the heat maps."""
    records = []
    for v, variant in enumerate(variants):
        matrix = coefficients[v * n_seeds + seed_index].abs().numpy()
        hidden, d = matrix.shape
        records.append(pd.DataFrame({"variant": variant["variant"],
                                     "node": np.repeat(np.arange(hidden), d),
                                     "feature": np.tile(np.arange(d), hidden),
                                     "abs_coefficient": matrix.reshape(-1)}))
    return pd.concat(records, ignore_index=True)


def evaluate_pretrained(config, data_paths, model_path, task_name, activation, outputs,
                        meta_path, variants=None):
    """Node measures, robustness grid and heat-map coefficients of one pre-training job."""
    sim = config["simulation"]
    variants = variants if variants is not None else variant_table(sim)
    nets, stored = load_networks(model_path, config, variants)
    data = load_data(data_paths)
    evaluation, n_seeds = sim["evaluation"], stored["n_seeds"]
    labels = {"task": task_name, "activation": activation}
    nodes, coefficients = evaluate_nodes(nets, data, variants, n_seeds,
                                         evaluation["dead_relative_norm"], labels)
    seed = derive_seed(config["base_seed"], "evaluate", task_name, activation)
    robustness = evaluate_robustness(nets, TASKS[task_name], data, variants, n_seeds, evaluation,
                                     torch_generator(seed), labels)
    fileio.write_csv(outputs["nodes"], nodes)
    fileio.write_csv(outputs["summary"], summarise_nodes(nodes))
    fileio.write_csv(outputs["robustness"], robustness)
    fileio.write_csv(outputs["coefficients"], coefficient_frame(
        coefficients, variants, n_seeds, evaluation["heatmap_seed"]))
    fileio.write_json(meta_path, fileio.provenance(
        {"attack_seed": seed}, {"evaluation": evaluation}, list(outputs.values())))
