"""One prepared check for a GPU machine: training throughput, AutoAttack time, model FLOP
utilisation and a small end-to-end run of the GPU-budget recipe, written to one JSON.

Made for a machine with its own PyTorch and no Snakemake, no internet and a few minutes: run it
through ``benchmarks/device_check.sh`` (README, "GPU check"), which puts this repository on the
path and installs a carried pyautoattack wheel if there is one. Sections, each under its own time
budget (and what is left of ``--budget``); a section that fails or runs out of time records its
error in the JSON and the next one runs. The JSON is rewritten after every section.

* ``environment``: the machine, torch, CUDA, the GPU; whether pyautoattack is importable.
* ``throughput``: CIFAR ResNet-18 at batch 512, PGD-10 adversarial training (and clean) by our
  code path and by a reference-style loop (fp32, no channels_last, DataLoader, standard PGD),
  side by side; SimCLR and ACL steps (benchmarks/images_throughput.py measures each).
* ``mfu``: the measured model FLOP utilisation of each of those next to the cost model's
  assumption (advpretrain/images/cost.py: FLOPs per image over the device's dense bf16 peak).
* ``autoattack``: AutoAttack standard on 1,000 images (advpretrain.images.evaluate.autoattack),
  on an untrained ResNet-18 whose own clean predictions are the labels, so that APGD-CE attacks
  every image as in a real evaluation; the robust share after each attack is recorded with it.
* ``end_to_end``: config/config.yaml + config/gpu_budget.yaml on a synthetic CIFAR-shaped
  archive, every variant for one epoch, through the workflow's own stage runner and stages
  (images_data -> images_pretrain -> images_linear -> images_evaluate).

``--tiny`` runs every section at a tiny size on the CPU, about 30 s of CPU time (the tests' check
that this file still runs: tests/unit/benchmarks/test_device_check.py).

    python -m benchmarks.device_check --out results/device_check.json [--tiny] [--budget 420]
"""

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import torch

from advpretrain.core.fileio import write_json
from advpretrain.images import cost
from advpretrain.images.cost_table import merged
from advpretrain.images.data import images_data
from advpretrain.images.linear import images_linear
from advpretrain.images.runtime import Runtime
from advpretrain.images.train import images_pretrain
from advpretrain.workflow import params as stage
from advpretrain.workflow import run as workflow
from benchmarks import images_throughput

REPO = Path(__file__).resolve().parent.parent
try:  # images_evaluate.py imports pyautoattack, which a GPU machine may lack
    from advpretrain.images.evaluate import autoattack, images_evaluate
    AUTOATTACK_MISSING = None
except ImportError as missing:
    autoattack = images_evaluate = None
    AUTOATTACK_MISSING = f"{missing} (carry the wheel: README, GPU check)"


def _module_at(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The tests' CIFAR-10 archive writer: the official on-disk format, random class-coloured images.
write_cifar_archive = _module_at(REPO / "tests" / "cifar_archive.py").write_cifar_archive

DATASET = "cifar10"
CONFIGS = ["config/config.yaml", "config/gpu_budget.yaml"]
# Seconds per section (GPU sizes); each also gets no more than what is left of --budget.
BUDGETS = {"environment": 20, "throughput": 180, "mfu": 5, "autoattack": 90, "end_to_end": 150}
# Sizes: the GPU check, and --tiny on the CPU.
SIZES = {
    False: {"autoattack_images": 1000, "autoattack_eps": 8, "archive": (5000, 1000),
            "validation": 500, "e2e_autoattack_images": 100, "e2e_evaluated": None},
    # --tiny: an eps at which APGD-CE breaks most images, so that the slow later attacks (FAB-T,
    # Square: 5,000 queries per image left) have little left to do on the CPU; and one variant
    # evaluated (the code path is the same for all; None: every variant).
    True: {"autoattack_images": 4, "autoattack_eps": 64, "archive": (60, 20), "validation": 12,
           "e2e_autoattack_images": 2, "e2e_evaluated": ["contrastive_adversarial"]},
}


class OutOfTime(BaseException):
    """A section's time is up (a BaseException, so that no ``except Exception`` inside it can
    swallow it and run on)."""


@contextlib.contextmanager
def deadline(seconds):
    def expire(signum, frame):
        raise OutOfTime(f"stopped at its time budget of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _error(error):
    return {"error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exception(error)[-3:]}


def attempt(errors, what, work, *args, **kwargs):
    """``work(*args, **kwargs)``, or None with the error recorded under ``what`` (a stage's
    failed job ends in SystemExit); running out of time ends the whole section instead."""
    try:
        return work(*args, **kwargs)
    except (Exception, SystemExit) as error:
        errors.append({"what": what, **_error(error)})
        return None


# ---------------------------------------------------------------- sections

def environment(args, report):
    runtime = _runtime(args)
    info = images_throughput.machine(runtime)
    info.update(python_executable=sys.executable, hostname=platform.node(),
                cudnn=torch.backends.cudnn.version() if torch.cuda.is_available() else None,
                pyautoattack=AUTOATTACK_MISSING or _version("pyautoattack"))
    return info


def throughput(args, report):
    """Every planned run of the throughput benchmark; adversarial training first."""
    bench = _throughput_args(args)
    runtime, data, flops, peak = images_throughput.prepare(bench)
    report["throughput"] = section = {
        "settings": {**vars(bench), "attack": images_throughput._attack(bench)},
        "forward_flops_per_image": flops, "peak_flops": peak, "results": [], "errors": []}
    runs = sorted(images_throughput.planned_runs(bench), key=lambda run: run[0] == "clean")
    for run in runs:
        row = attempt(section["errors"], f"{run[2]} {run[0]}", images_throughput.measure, run,
                      data, bench, runtime, flops, peak)
        if row:
            section["results"].append({**row, "step_seconds": bench.batch / row["images_per_s"]})
    section["speedup_ours_over_reference"] = images_throughput.speedups(section["results"])
    return section


def mfu(args, report):
    """The measured utilisation of every throughput run next to the cost model's."""
    measured = report.get("throughput", {})
    if not measured.get("results"):
        raise RuntimeError("no throughput measurement to compute it from")
    return {"assumed_by_cost_model": cost.UTILISATION, "peak_flops": measured["peak_flops"],
            "peak_source": _peak_source(args),
            "measured": {f"{row['pipeline']} {row['mode']}": row["mfu"]
                         for row in measured["results"]}}


def autoattack_time(args, report):
    if autoattack is None:
        return {"available": False, "reason": AUTOATTACK_MISSING}
    bench = _throughput_args(args)
    runtime = _runtime(args)
    n = SIZES[args.tiny]["autoattack_images"]
    model = images_throughput._model(bench.width, runtime).eval()
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=generator, dtype=torch.uint8)
    images = images.to(runtime.device).float().div_(255)
    batch = merged(CONFIGS)["images"][DATASET]["evaluation"]["batch"]
    with torch.no_grad():
        labels = torch.cat([model(images[s:s + batch]).argmax(1) for s in range(0, n, batch)])
    runtime.synchronize()
    start = time.perf_counter()
    eps = SIZES[args.tiny]["autoattack_eps"]
    robust, after = autoattack(model, images, labels, eps / 255, 10, batch, 0, runtime.device)
    runtime.synchronize()
    seconds = time.perf_counter() - start
    return {"available": True, "version": _version("pyautoattack"), "images": n,
            "eps": f"{eps}/255", "batch": batch, "seconds": seconds, "robust_share_after": after,
            "model": f"untrained ResNet-18 (width {bench.width}), labels = its clean predictions"}


def end_to_end(args, report):
    """The GPU-budget recipe, one epoch per variant, through the workflow's stage runner."""
    sizes = SIZES[args.tiny]
    with tempfile.TemporaryDirectory(prefix="device_check_") as folder:
        return _end_to_end(args, report, sizes, Path(folder))


def _end_to_end(args, report, sizes, folder):
    n_train, n_test = sizes["archive"]
    md5 = write_cifar_archive(folder / "archive", n_train=n_train, n_test=n_test)
    config = e2e_config(args.tiny, folder / "archive", md5, sizes)
    section = config["images"][DATASET]
    report["end_to_end"] = result = {
        "configs": CONFIGS, "changed": _changes(args.tiny, sizes), "archive_images": sizes[
            "archive"], "jobs": [], "errors": []}
    data = folder / "data" / "split.npz"
    job = attempt(result["errors"], "images_data", _run_job, "images_data", images_data, folder,
                  {}, {"data": data, "meta": data.with_suffix(".json")}, {},
                  settings=stage.images_data(config, DATASET),
                  source=stage.images_source(config, DATASET))
    if job is None:
        return result
    result["jobs"].append(job)
    options = stage.images_options(config, DATASET)
    for variant in section["variants"]:
        wildcards = {"dataset": DATASET, "variant": variant, "seed": 0}
        out = folder / variant
        jobs = [
            ("images_pretrain", images_pretrain, {"data": data},
             {"encoder": out / "encoder.pt", "log_csv": out / "pretrain_log.csv",
              "meta": out / "pretrain.json"},
             {"settings": stage.images_pretrain(config, DATASET, variant, 0),
              "resume": stage.untracked(path=str(out / "pretrain_resume.pt"))}),
            ("images_linear", images_linear, {"data": data, "encoder": out / "encoder.pt"},
             {"heads": out / "linear_heads.pt", "log_csv": out / "linear_log.csv",
              "meta": out / "linear.json"},
             {"settings": stage.images_linear(config, DATASET, variant, 0),
              "resume": stage.untracked(path=str(out / "linear_resume.pt"))}),
            ("images_evaluate", images_evaluate, {"data": data, "encoder": out / "encoder.pt",
                                           "heads": out / "linear_heads.pt"},
             {"metrics": out / "evaluation.csv", "robustness": out / "robustness.csv",
              "purification": out / "purification.csv", "meta": out / "evaluation.json"},
             {"settings": stage.images_evaluate(config, DATASET, variant, 0)}),
        ]
        if sizes["e2e_evaluated"] and variant not in sizes["e2e_evaluated"]:
            jobs = jobs[:-1]
        for rule, function, inputs, outputs, params in jobs:
            if function is None:
                result["errors"].append({"what": f"{rule} {variant}",
                                         "error": f"skipped: {AUTOATTACK_MISSING}"})
                break
            job = attempt(result["errors"], f"{rule} {variant}", _run_job, rule, function,
                          folder, inputs, outputs, wildcards, options=options, **params)
            if job is None:
                break
            result["jobs"].append(job)
        if (out / "evaluation.csv").is_file():
            table = pd.read_csv(out / "evaluation.csv").astype(object)
            result.setdefault("evaluation", {})[variant] = table.where(  # NaN: not JSON
                table.notna(), None).to_dict("records")
    return result


SECTIONS = {"environment": environment, "throughput": throughput, "mfu": mfu,
            "autoattack": autoattack_time, "end_to_end": end_to_end}


# ---------------------------------------------------------------- helpers

def _version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _runtime(args):
    on_gpu = torch.cuda.is_available() and not args.tiny
    return Runtime(device=torch.device("cuda" if on_gpu else "cpu"), bf16=on_gpu,
                   channels_last=on_gpu, compile=False)


def _throughput_args(args):
    # images_throughput's own sizes (batch 512, width 64, 20 timed steps; or its --tiny ones);
    # its --out is required there and unused here: the numbers go into this check's JSON.
    bench = images_throughput.parse(["--out", str(args.out)] + (["--tiny"] if args.tiny else []))
    if args.tiny:  # no GPU peak on a CPU: the cost model's CPU figure, to exercise the sums
        bench.peak_tflops = cost.CPU_FLOPS / 1e12
    return bench


def _peak_source(args):
    if args.tiny:
        return "advpretrain.images.cost.CPU_FLOPS (a CPU run: not a GPU's peak)"
    return "advpretrain.images.cost.PEAK_FLOPS[gpu_kind(device name)]['bf16']"


def _changes(tiny, sizes):
    """What the end-to-end run changes of the GPU-budget recipe (besides the archive)."""
    changed = {"epochs": "1 per variant (pre-training and linear heads)",
               "selection.every": 1, "evaluation.autoattack_images": sizes[
                   "e2e_autoattack_images"], "data.validation_size": sizes["validation"]}
    if sizes["e2e_evaluated"]:
        changed["images_evaluate"] = f"only {', '.join(sizes['e2e_evaluated'])}"
    if tiny:
        changed.update({"model.width": 4, "batch": 16, "runtime": "cpu, float32",
                        "evaluation eps": sizes["autoattack_eps"]})
    return changed


def e2e_config(tiny, archive_root, md5, sizes):
    config = merged(CONFIGS)
    section = config["images"][DATASET]
    section["data"].update(root=str(archive_root), archive_md5=md5, download=False,
                           validation_size=sizes["validation"])
    for task in ("supervised", "contrastive"):
        section[task]["epochs"] = {"clean": 1, "adversarial": 1}
    section["supervised"]["selection"]["every"] = 1
    section["linear"]["epochs"] = 1
    section["evaluation"]["autoattack_images"] = sizes["e2e_autoattack_images"]
    if tiny:
        section["model"]["width"] = 4
        for task in ("supervised", "contrastive", "linear"):
            section[task]["batch"] = 16
        section["runtime"].update(device="cpu", bf16=False, channels_last=False)
        # As the AutoAttack section: an eps at which few images survive APGD-CE.
        eps = sizes["autoattack_eps"]
        section["evaluation"]["pgd"].update(eps=eps, step=eps // 4)
        section["evaluation"]["eps_grid"] = [eps]
    return config


def _run_job(rule, function, folder, inputs, outputs, wildcards, **params):
    """One job as Snakemake would run its script: advpretrain.workflow.run with the rule's
    params; its wall time, the stage's own timing and (pre-training) the cost model's FLOPs."""
    log = folder / "logs" / f"{rule}_{'_'.join(map(str, wildcards.values())) or 'all'}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    for path in outputs.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    job = SimpleNamespace(
        rule=rule, threads=torch.get_num_threads(), params=params, wildcards=wildcards,
        input={k: str(v) for k, v in inputs.items()},
        output={k: str(v) for k, v in outputs.items()}, log=[str(log)])
    start = time.perf_counter()
    try:
        workflow.run(job, function)
    except SystemExit:
        raise RuntimeError(log.read_text().strip().splitlines()[-1]) from None
    seconds = time.perf_counter() - start
    meta = _read_json(outputs["meta"]) if "meta" in outputs else {}
    row = {"rule": rule, **wildcards, "seconds": seconds,
           "stage_seconds": meta.get("timing", {}).get("wall_seconds")}
    if rule == "images_pretrain":
        flops = _logged_flops(log)
        row.update(cost_model_flops=flops, achieved_flops_per_s=flops / seconds if flops else None)
    return row


def _read_json(path):
    return json.loads(Path(path).read_text())


def _logged_flops(log):
    for line in Path(log).read_text().splitlines():
        if line.startswith("cost model: ") and line.endswith(" FLOP"):
            return float(line.removeprefix("cost model: ").removesuffix(" FLOP"))
    return None


# ---------------------------------------------------------------- main

def default_out():
    if os.environ.get("OUT"):
        return str(Path(os.environ["OUT"]) / "device_check.json")
    return str(REPO / "benchmarks" / "results" / "device_check.json")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default_out(),
                        help="the JSON to write (default: $OUT/device_check.json, else "
                             "benchmarks/results/device_check.json)")
    parser.add_argument("--tiny", action="store_true", help="every section tiny, on the CPU")
    parser.add_argument("--budget", type=float, default=420.0,
                        help="seconds for all sections together")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), help="these sections")
    args = parser.parse_args(argv)
    if args.tiny:
        torch.set_num_threads(1)
    started = time.perf_counter()
    report = {"command": [Path(sys.executable).name, "-m", "benchmarks.device_check",
                          *(sys.argv[1:] if argv is None else argv)],
              "tiny": args.tiny, "budget_seconds": args.budget, "sections": {}}
    for name, section in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        left = args.budget - (time.perf_counter() - started)
        budget = min(BUDGETS[name], left)
        status = {"budget_seconds": round(budget, 1)}
        start = time.perf_counter()
        if left < 1:
            status["status"] = "skipped: no time left of --budget"
        else:
            try:
                with deadline(budget):
                    report[name] = section(args, report)
                status["status"] = "ok"
            except (Exception, OutOfTime) as error:
                status.update(status="error", **_error(error))
        status["seconds"] = round(time.perf_counter() - start, 2)
        report["sections"][name] = status
        errors = report.get(name, {}).get("errors") if isinstance(report.get(name), dict) else None
        print(f"[device_check] {name}: {status['status']} in {status['seconds']} s"
              + (f" ({len(errors)} errors)" if errors else ""), flush=True)
        report["seconds"] = round(time.perf_counter() - started, 2)
        write_json(args.out, report)
    print(f"[device_check] wrote {args.out}", flush=True)
    return report


if __name__ == "__main__":
    main()
