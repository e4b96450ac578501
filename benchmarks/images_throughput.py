"""Training throughput of CIFAR ResNet-18: our code path vs a common public reference style,
and our contrastive path (SimCLR and ACL), against the cost model's assumption.

Supervised, both pipelines train the same model on the same synthetic CIFAR-shaped data in the
same process, clean and with PGD-10 l_inf adversarial training:

* ours: uint8 data resident on the device, crop and flip on the device, bf16 autocast and
  channels_last on the GPU, optional torch.compile, attack steps with frozen parameters and
  input gradients only (advpretrain.attack.pgd), as advpretrain/images/train.py trains;
* reference: float32, a torch DataLoader with CPU torchvision transforms (RandomCrop(32, 4),
  RandomHorizontalFlip, ToTensor), and loss.backward() inside the attack loop (which also
  computes the weight gradients that the attack throws away).

Contrastive, ours only: SimCLR (two views, ACL's projection head) and ACL (dual BatchNorm, PGD-5
on both views through the adversarial branch, two training passes), views made on the device.

Model FLOP utilisation counts the FLOPs the work needs (advpretrain.images.cost: 3 forward
passes per trained image, 2 per attack step and image) against the device's dense bf16 peak,
picked by its name (H100 SXM and PCIe differ; ``--peak-tflops`` for others); ``estimate_mfu`` is
the cost model's assumed utilisation, to compare with.

    .venv/bin/python benchmarks/images_throughput.py --out results/benchmarks/images_throughput.json
    .venv/bin/python benchmarks/images_throughput.py --tiny --out /tmp/tiny.json   # CPU, seconds
"""

import argparse
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms

from advpretrain.attack.pgd import frozen, linf_pgd
from advpretrain.core.fileio import write_json
from advpretrain.images import cost
from advpretrain.images.augment import crop_flip, simclr_view
from advpretrain.images.datasets import spec
from advpretrain.images.losses import contrastive_logits, cross_entropy, nt_xent
from advpretrain.images.models import Classifier, ContrastiveModel, ResNet18Encoder, set_branch
from advpretrain.images.runtime import Runtime
from benchmarks.common import machine as common_machine

CIFAR = spec("cifar10")
SHIFT = {"shift": 4, "flip": True}
VIEWS = {"crop_scale": [0.1, 1.0], "flip": True, "jitter": [0.4, 0.4, 0.4, 0.1],
         "jitter_prob": 0.8, "grayscale_prob": 0.2}


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="results JSON to write")
    parser.add_argument("--tiny", action="store_true", help="tiny model and batch on the CPU")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--images", type=int, default=50000, help="synthetic data set size")
    parser.add_argument("--workers", type=int, default=8, help="reference DataLoader workers")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model")
    parser.add_argument("--attack-steps", type=int, default=10,
                        help="PGD steps of supervised training (eps 8/255, step 2/255)")
    parser.add_argument("--acl-steps", type=int, default=5, help="ACL's PGD steps")
    parser.add_argument("--peak-tflops", type=float, help="device peak for the utilisation")
    args = parser.parse_args(argv)
    if args.tiny:
        args.batch, args.width, args.steps, args.warmup = 8, 4, 2, 1
        args.images, args.workers, args.compile, args.attack_steps = 16, 0, False, 2
        args.acl_steps = 1
    return args


class _SyntheticImages(Dataset):
    """CIFAR-shaped uint8 HWC images served through PIL, as torchvision's CIFAR10 does."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels
        self.transform = transforms.Compose([transforms.RandomCrop(32, padding=4),
                                             transforms.RandomHorizontalFlip(),
                                             transforms.ToTensor()])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def _encoder(width, dual_bn=False):
    torch.manual_seed(0)
    return ResNet18Encoder(width, 3, CIFAR.mean, CIFAR.std, dual_bn=dual_bn)


def _model(width, runtime):
    return runtime.place(Classifier(_encoder(width), 10))


def _timed(step, batches, warmup, steps, batch, runtime):
    """Images per second over ``steps`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step(*next(batches))
    runtime.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step(*next(batches))
    runtime.synchronize()
    seconds = time.perf_counter() - start
    return steps * batch / seconds, seconds


def _attack(args):
    return {"eps": 8, "step": 2, "steps": args.attack_steps}


def _batches(data, args, runtime, generator):
    images_u8, labels = (t.to(runtime.device) for t in data)
    while True:
        order = torch.randperm(len(labels), generator=generator, device=runtime.device)
        for index in order[: len(order) // args.batch * args.batch].view(-1, args.batch):
            yield runtime.images(images_u8[index]), labels[index]


def ours(adversarial, data, args, runtime):
    model = _model(args.width, runtime)
    forward = runtime.compiled(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    generator = torch.Generator(device=runtime.device).manual_seed(0)

    def loss_of(images, target):
        with runtime.autocast():
            return cross_entropy(forward(images), target)

    def step(images, target):
        images = runtime.layout(crop_flip(images, generator, SHIFT))
        if adversarial:
            model.eval()
            with frozen(model):
                (images,) = linf_pgd(lambda x: loss_of(x, target), (images,), 8 / 255, 2 / 255,
                                     args.attack_steps, generator)
            model.train()
        optimizer.zero_grad(set_to_none=True)
        loss_of(images, target).mean().backward()
        optimizer.step()

    model.train()
    return _timed(step, _batches(data, args, runtime, generator), args.warmup, args.steps,
                  args.batch, runtime)


def contrastive(adversarial, data, args, runtime):
    """SimCLR, or ACL (dual BatchNorm, PGD on both views through the adversarial branch)."""
    model = runtime.place(ContrastiveModel(_encoder(args.width, adversarial), 128,
                                           dual_bn=adversarial))
    forward = runtime.compiled(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    generator = torch.Generator(device=runtime.device).manual_seed(0)

    def loss_of(first, second):
        with runtime.autocast():
            z = forward(torch.cat([first, second]))
        return nt_xent(*contrastive_logits(*z.chunk(2), 0.5))

    def step(images, _):
        views = tuple(runtime.layout(simclr_view(images, generator, VIEWS)) for _ in range(2))
        loss = loss_of(*views)
        if adversarial:
            set_branch(model, "adversarial")
            model.eval()
            with frozen(model):
                moved = linf_pgd(loss_of, views, 8 / 255, 2 / 255, args.acl_steps, generator)
            model.train()
            loss = (loss + loss_of(*moved)) / 2
            set_branch(model, "clean")
        optimizer.zero_grad(set_to_none=True)
        loss.mean().backward()
        optimizer.step()

    model.train()
    return _timed(step, _batches(data, args, runtime, generator), args.warmup, args.steps,
                  args.batch, runtime)


def reference(adversarial, data, args, runtime):
    model = _model(args.width, runtime)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images_hwc = data[0].permute(0, 2, 3, 1).numpy()
    loader = DataLoader(_SyntheticImages(images_hwc, data[1].numpy()), batch_size=args.batch,
                        shuffle=True, drop_last=True, num_workers=args.workers,
                        pin_memory=runtime.device.type == "cuda",
                        persistent_workers=args.workers > 0)
    attack = _attack(args)
    eps, alpha = attack["eps"] / 255, attack["step"] / 255

    def batches():
        while True:
            for images, target in loader:
                yield images.to(runtime.device, non_blocking=True), target.to(runtime.device)

    def step(images, target):
        if adversarial:
            model.eval()
            delta = torch.empty_like(images).uniform_(-eps, eps)
            delta = ((images + delta).clamp(0, 1) - images).requires_grad_(True)
            for _ in range(attack["steps"]):
                loss = F.cross_entropy(model(images + delta), target)
                loss.backward()
                delta.data = (delta + alpha * delta.grad.sign()).clamp(-eps, eps)
                delta.data = (images + delta).clamp(0, 1) - images
                delta.grad.zero_()
            images = (images + delta).detach()
            model.train()
        optimizer.zero_grad()
        F.cross_entropy(model(images), target).backward()
        optimizer.step()

    model.train()
    return _timed(step, batches(), args.warmup, args.steps, args.batch, runtime)


def forward_flops_per_image(width, runtime):
    model = Classifier(_encoder(width), 10).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 3, 32, 32))
    return counter.get_total_flops()


def peak_flops(args, runtime):
    if args.peak_tflops:
        return args.peak_tflops * 1e12
    if runtime.device.type != "cuda":
        return None
    kind = cost.gpu_kind(torch.cuda.get_device_name(runtime.device))
    return cost.PEAK_FLOPS[kind]["bf16"] if kind else None


def machine(runtime):
    info = {**common_machine(), "python": platform.python_version(),
            "device": runtime.describe()}
    if runtime.device.type == "cuda":
        info["cuda"] = torch.version.cuda
        memory = torch.cuda.get_device_properties(runtime.device).total_memory
        info["gpu_memory_gib"] = memory / 2**30
    return info


def prepare(args):
    """The device runtime, the synthetic CIFAR-shaped data, forward FLOPs and the device peak."""
    on_gpu = torch.cuda.is_available() and not args.tiny
    if args.tiny:
        torch.set_num_threads(1)  # seconds on a shared CPU; more threads only contend
    runtime = Runtime(device=torch.device("cuda" if on_gpu else "cpu"), bf16=on_gpu,
                      channels_last=on_gpu, compile=args.compile, levels=CIFAR.levels)
    torch.backends.cudnn.benchmark = on_gpu  # for both pipelines, as public code usually sets it
    rng = np.random.default_rng(0)
    data = (torch.from_numpy(rng.integers(0, 256, (args.images, 3, 32, 32), dtype=np.uint8)),
            torch.from_numpy(rng.integers(0, 10, args.images)))
    return runtime, data, forward_flops_per_image(args.width, runtime), peak_flops(args, runtime)


def planned_runs(args):
    """(mode, forward passes needed per image, pipeline name, pipeline) of every measurement."""
    supervised = {"clean": 3, f"pgd{args.attack_steps}": 3 + 2 * args.attack_steps}
    # Contrastive, per image: two views trained (2 x 3); ACL adds 2 x 2 per step and 2 x 3.
    views = {"simclr": 6, f"acl{args.acl_steps}": 6 + 4 * args.acl_steps + 6}
    runs = [(mode, passes, name, pipeline) for mode, passes in supervised.items()
            for name, pipeline in (("ours", ours), ("reference", reference))]
    return runs + [(mode, passes, "ours", contrastive) for mode, passes in views.items()]


def measure(run, data, args, runtime, flops, peak):
    """One planned run's row: images/s, epoch time and model FLOP utilisation."""
    mode, needed_passes, name, pipeline = run
    rate, seconds = pipeline(mode not in ("clean", "simclr"), data, args, runtime)
    achieved = rate * needed_passes * flops
    print(f"{name:9s} {mode:6s} {rate:10.1f} images/s", flush=True)
    return {"pipeline": name, "mode": mode, "images_per_s": rate, "timed_seconds": seconds,
            "model_tflops_per_s": achieved / 1e12, "mfu": achieved / peak if peak else None,
            "epoch_seconds_49000": 49000 / rate}


def speedups(rows):
    """ours over reference, per mode that both measured."""
    rate = {(r["pipeline"], r["mode"]): r["images_per_s"] for r in rows}
    return {mode: rate["ours", mode] / rate["reference", mode] for (name, mode) in rate
            if name == "ours" and ("reference", mode) in rate}


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    runtime, data, flops, peak = prepare(args)
    rows = [measure(run, data, args, runtime, flops, peak) for run in planned_runs(args)]
    write_json(args.out, {
        "command": [sys.executable, *sys.argv] if argv is None else ["images_throughput.py",
                                                                     *argv],
        "machine": machine(runtime), "settings": {**vars(args), "attack": _attack(args)},
        "forward_flops_per_image": flops, "peak_flops": peak, "estimate_mfu": cost.UTILISATION,
        "results": rows, "speedup_ours_over_reference": speedups(rows)})
    return rows


if __name__ == "__main__":
    main()
