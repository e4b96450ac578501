"""Cost model of the real-image jobs: FLOPs from the settings, GPU time at a stated utilisation.

torch-free (the Snakefile prints it before any job starts) and result-neutral (it changes no
output: ``advpretrain.workflow.code_inputs.RESULT_NEUTRAL``). ``advpretrain.images.cost_table``
turns it into the per-job table that the workflow prints and that docs/cifar10.md carries.

What is counted (``F`` = forward FLOPs of one image through the network, convolutions and linear
layers, as ``advpretrain.images.architecture`` lists them):

* a training step costs 3F per image (forward, input and weight gradients);
* an attack step costs 2F per image (forward and input gradient: the parameters are frozen);
* supervised pre-training: 3F per image, plus 2F per PGD step for the adversarial variant;
* contrastive pre-training: two views, 3F each; ACL adds 2F per PGD step on both views and a
  second training pass of both views through the adversarial branch;
* model selection: a clean pass (F) of the validation split every ``every`` epochs and at the
  last, plus 2F per PGD step for the adversarial variant;
* linear heads: one encoder forward (F) per training and validation image per epoch (every head
  in one pass);
* evaluation, per downstream task: a clean pass, PGD (2F per step + F) at every eps of the grid,
  and AutoAttack on its subset: APGD-CE 100 steps on every image, then APGD-T (9 targets x 100
  steps), FAB-T (targets x 100 steps, ~3F each) and Square (5000 queries, F each) on the share
  of images still robust, assumed ``ROBUST_SHARE`` (half for adversarial pre-training).

GPU time = FLOPs / (peak x ``UTILISATION``) + a fixed start-up per job (+ a compile allowance).
The utilisation is an assumption, not a measurement: 12 % of the dense peak matches about 36,000
clean ResNet-18 training images per second on an H100 in bf16 (3 x 1.11 GFLOP per image); the
throughput benchmark (benchmarks/images_throughput.py) measures the real figure on a GPU.
"""

import math

from advpretrain.images.architecture import encoder_layers, feature_dim, flops, linear
from advpretrain.images.datasets import spec

# Dense peak FLOP/s: bf16 (training under autocast) and TF32 (float32 evaluation: cuDNN
# convolutions use TF32 by default). The reference is the H100 SXM.
PEAK_FLOPS = {
    "H100 SXM": {"bf16": 989.4e12, "tf32": 494.7e12},
    "H100 PCIe": {"bf16": 756.0e12, "tf32": 378.0e12},
    "H200": {"bf16": 989.4e12, "tf32": 494.7e12},
    "A100": {"bf16": 312.0e12, "tf32": 156.0e12},
}
REFERENCE_GPU = "H100 SXM"
UTILISATION = 0.12
START_SECONDS = 30          # process start, data to the device, first batches
COMPILE_SECONDS = 60        # torch.compile of a training job's forward passes
CPU_FLOPS = 100e9           # a generous multi-core CPU (2 cores measured about 100 GFLOP/s)
ROBUST_SHARE = {True: 0.5, False: 0.02}   # AutoAttack: share of images robust after APGD-CE
AUTOATTACK = {"apgd_steps": 100, "targets": 9, "square_queries": 5000, "fab_cost": 3}


def gpu_kind(device_name):
    """The ``PEAK_FLOPS`` entry of a CUDA device name (``torch.cuda.get_device_name``), or None:
    an H100 "PCIe" board has about 3/4 of the SXM (HBM3) board's peak."""
    if "H100" in device_name:
        return "H100 PCIe" if "PCIe" in device_name else "H100 SXM"
    return next((kind for kind in PEAK_FLOPS if kind in device_name), None)


def forward_flops(model, dataset, outputs=None, projection_dim=None):
    """FLOPs of one image's forward pass: the encoder, plus a linear head with ``outputs``
    classes or the projection head (``projection_dim``)."""
    facts = spec(dataset)
    dim = feature_dim(model["arch"], model["width"])
    layers = encoder_layers(model["arch"], model["width"], facts.channels, facts.size)
    if outputs:
        layers.append(linear(dim, outputs))
    if projection_dim:
        layers += [linear(dim, dim), linear(dim, projection_dim)]
    return flops(layers)


def _validations(epochs, every):
    """How many validation passes model selection makes (every ``every`` epochs and the last)."""
    return epochs // every + (epochs % every != 0)


def pretrain_flops(settings, sizes):
    """FLOPs of one pre-training job (``settings.images_pretrain``); ``sizes``: split sizes."""
    recipe, dataset, model = settings["recipe"], settings["dataset"], settings["model"]
    epochs, n_train = recipe["epochs"], sizes["train"] // recipe["batch"] * recipe["batch"]
    steps = settings["attack"]["steps"] if settings["adversarial"] else 0
    if settings["task"] == "supervised":
        f = forward_flops(model, dataset, outputs=spec(dataset).classes)
        total = epochs * n_train * (3 + 2 * steps) * f
        selection = settings["selection"]
        select_steps = selection["attack"]["steps"] if settings["adversarial"] else 0
        per_image = f * (1 + (2 * select_steps + 1 if select_steps else 0))
        return total + _validations(epochs, selection["every"]) * sizes["val"] * per_image
    f = forward_flops(model, dataset, projection_dim=recipe["projection_dim"])
    per_image = 2 * 3 * f + (2 * (2 * steps * f) + 2 * 3 * f if steps else 0)
    return epochs * n_train * per_image


def linear_flops(model, dataset, epochs, sizes):
    """FLOPs of the clean linear heads of one encoder (all tasks share the encoder passes)."""
    return epochs * (sizes["train"] + sizes["val"]) * forward_flops(model, dataset)


def autoattack_flops(f, images, classes, adversarial):
    """AutoAttack standard on ``images`` images of a ``classes``-way task (see the module doc)."""
    robust = ROBUST_SHARE[adversarial] * images
    steps, targets = AUTOATTACK["apgd_steps"], min(AUTOATTACK["targets"], classes - 1)
    total = steps * 2 * f * images                                   # APGD-CE
    if classes >= 4:
        total += targets * steps * 2 * f * robust                    # APGD-T
    total += targets * steps * AUTOATTACK["fab_cost"] * f * robust    # FAB-T
    total += AUTOATTACK["square_queries"] * f * robust               # Square
    return total


def evaluate_flops(model, dataset, evaluation, sizes, task_classes, adversarial):
    """FLOPs of one evaluation job: every downstream task (``task_classes``: classes per task)."""
    f = forward_flops(model, dataset)
    n_test, n_auto = sizes["test"], min(evaluation["autoattack_images"], sizes["test"])
    pgd = len(evaluation["eps_grid"]) * n_test * (2 * evaluation["pgd"]["steps"] + 1) * f
    per_task = [n_test * f + pgd + n_auto * (2 * evaluation["pgd"]["steps"] + 1) * f
                + autoattack_flops(f, n_auto, classes, adversarial) for classes in task_classes]
    return sum(per_task) + n_test * f  # + the purification pass


def gpu_seconds(total_flops, precision, compiled=False, gpu=REFERENCE_GPU):
    """Expected seconds on ``gpu`` at ``UTILISATION`` (``precision``: "bf16" or "tf32")."""
    compute = total_flops / (PEAK_FLOPS[gpu][precision] * UTILISATION)
    return compute + START_SECONDS + (COMPILE_SECONDS if compiled else 0)


def cpu_hours(total_flops):
    return total_flops / CPU_FLOPS / 3600


def cpu_refusal(settings, sizes, max_hours):
    """The one-line reason a pre-training job refuses to run on a CPU, or None.

    ``settings``: the job's ``images_pretrain`` settings; ``max_hours``: the config's
    ``runtime.cpu_max_hours``."""
    total = pretrain_flops(settings, sizes)
    hours = cpu_hours(total)
    if hours <= max_hours:
        return None
    dataset = settings["dataset"]
    gpu_hours = gpu_seconds(total, "bf16" if settings["bf16"] else "tf32") / 3600
    return (f"refusing to pre-train {dataset} {settings['variant']} (seed {settings['seed']}) on "
            f"the CPU: {total:.2e} FLOP, about {_duration(hours)} at {CPU_FLOPS / 1e9:.0f} "
            f"GFLOP/s (about {gpu_hours:.2f} GPU-hours on an {REFERENCE_GPU} at "
            f"{UTILISATION:.0%} utilisation); run it where a GPU is visible, or raise config key "
            f"images.{dataset}.runtime.cpu_max_hours above {math.ceil(hours)} to force it")


def _duration(hours):
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.0f} days"
