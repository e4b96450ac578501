"""Training throughput of CIFAR ResNet-18: our code path vs a common public reference style.

Both pipelines train the same model on the same synthetic CIFAR-shaped data in the same process,
clean and with PGD-10 l_inf adversarial training:

* ours: uint8 data resident on the device, crop and flip on the device, bf16 autocast and
  channels_last on the GPU, optional torch.compile, input gradients with torch.autograd.grad
  (advpretrain.attacks.perturb), exactly as advpretrain/cifar/train.py trains;
* reference: float32, a torch DataLoader with CPU torchvision transforms (RandomCrop(32, 4),
  RandomHorizontalFlip, ToTensor), and loss.backward() inside the attack loop (which also
  computes the weight gradients that the attack throws away).

Model FLOP utilisation counts the FLOPs the work needs: 3 forward passes per clean image (forward
and backward) and, per PGD step, 2 (forward and input gradient), against the device's dense bf16
peak (``--peak-tflops`` for devices not in the table).

    .venv/bin/python benchmarks/cifar_throughput.py --out results/benchmarks/cifar_throughput.json
    .venv/bin/python benchmarks/cifar_throughput.py --tiny --out /tmp/tiny.json   # CPU, seconds
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

from advpretrain.images.augment import crop_flip
from advpretrain.images.losses import cross_entropy
from advpretrain.images.models import Classifier, ResNet18Encoder
from advpretrain.images.runtime import Runtime
from advpretrain.images.train import linf_pgd
from advpretrain.fileio import write_json
from benchmarks.common import machine as common_machine

PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


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
                        help="PGD steps (eps 8/255, step 2/255)")
    parser.add_argument("--peak-tflops", type=float, help="device peak for the utilisation")
    args = parser.parse_args(argv)
    if args.tiny:
        args.batch, args.width, args.steps, args.warmup = 8, 4, 2, 1
        args.images, args.workers, args.compile, args.attack_steps = 16, 0, False, 2
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


def _model(width, runtime):
    torch.manual_seed(0)
    return runtime.place(Classifier(ResNet18Encoder(width)))


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
    return {"eps_255": 8, "step_255": 2, "steps": args.attack_steps}


def ours(adversarial, data, args, runtime):
    model = _model(args.width, runtime)
    forward = runtime.compiled(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images_u8, labels = (t.to(runtime.device) for t in data)
    generator = torch.Generator(device=runtime.device).manual_seed(0)

    def loss_of(images, target):
        with runtime.autocast():
            return cross_entropy(forward(images), target)

    def batches():
        while True:
            order = torch.randperm(len(labels), generator=generator, device=runtime.device)
            for index in order[: len(order) // args.batch * args.batch].view(-1, args.batch):
                yield runtime.images(images_u8[index]), labels[index]

    def step(images, target):
        images = crop_flip(images, generator)
        if adversarial:
            model.eval()
            (images,) = linf_pgd(lambda x: loss_of(x, target), (images,), _attack(args), generator)
            model.train()
        optimizer.zero_grad(set_to_none=True)
        loss_of(images, target).mean().backward()
        optimizer.step()

    model.train()
    return _timed(step, batches(), args.warmup, args.steps, args.batch, runtime)


def reference(adversarial, data, args, runtime):
    model = _model(args.width, runtime)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images_hwc = data[0].permute(0, 2, 3, 1).numpy()
    loader = DataLoader(_SyntheticImages(images_hwc, data[1].numpy()), batch_size=args.batch,
                        shuffle=True, drop_last=True, num_workers=args.workers,
                        pin_memory=runtime.device.type == "cuda",
                        persistent_workers=args.workers > 0)
    attack = _attack(args)
    eps, alpha = attack["eps_255"] / 255, attack["step_255"] / 255

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
    model = Classifier(ResNet18Encoder(width)).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 3, 32, 32))
    return counter.get_total_flops()


def peak_flops(args, runtime):
    if args.peak_tflops:
        return args.peak_tflops * 1e12
    if runtime.device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(runtime.device)
    return next((tflops * 1e12 for key, tflops in PEAK_BF16_TFLOPS.items() if key in name), None)


def machine(runtime):
    info = {**common_machine(), "python": platform.python_version(),
            "device": runtime.describe()}
    if runtime.device.type == "cuda":
        info["cuda"] = torch.version.cuda
        memory = torch.cuda.get_device_properties(runtime.device).total_memory
        info["gpu_memory_gib"] = memory / 2**30
    return info


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    on_gpu = torch.cuda.is_available() and not args.tiny
    if args.tiny:
        torch.set_num_threads(1)  # seconds on a shared CPU; more threads only contend
    runtime = Runtime(device=torch.device("cuda" if on_gpu else "cpu"), bf16=on_gpu,
                      channels_last=on_gpu, compile=args.compile)
    torch.backends.cudnn.benchmark = on_gpu  # for both pipelines, as public code usually sets it
    rng = np.random.default_rng(0)
    data = (torch.from_numpy(rng.integers(0, 256, (args.images, 3, 32, 32), dtype=np.uint8)),
            torch.from_numpy(rng.integers(0, 10, args.images)))
    flops = forward_flops_per_image(args.width, runtime)
    peak = peak_flops(args, runtime)
    passes = {"clean": 3, f"pgd{args.attack_steps}": 3 + 2 * args.attack_steps}
    rows = []
    for mode, needed_passes in passes.items():
        for name, pipeline in (("ours", ours), ("reference", reference)):
            rate, seconds = pipeline(mode != "clean", data, args, runtime)
            achieved = rate * needed_passes * flops
            rows.append({"pipeline": name, "mode": mode, "images_per_s": rate,
                         "timed_seconds": seconds, "model_tflops_per_s": achieved / 1e12,
                         "mfu": achieved / peak if peak else None})
            print(f"{name:9s} {mode:6s} {rate:10.1f} images/s", flush=True)
    rate = {(r["pipeline"], r["mode"]): r["images_per_s"] for r in rows}
    speedup = {mode: rate["ours", mode] / rate["reference", mode] for mode in passes}
    write_json(args.out, {
        "command": [sys.executable, *sys.argv] if argv is None else ["cifar_throughput.py", *argv],
        "machine": machine(runtime), "settings": {**vars(args), "attack": _attack(args)},
        "forward_flops_per_image": flops, "peak_flops": peak, "results": rows,
        "speedup_ours_over_reference": speedup})
    return rows


if __name__ == "__main__":
    main()
