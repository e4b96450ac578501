"""What every benchmark records beside its numbers: the machine and the command."""

import json
import os
import platform
import sys
from pathlib import Path

import torch


def machine():
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_result(path, numbers):
    payload = {"command": " ".join([Path(sys.executable).name, *sys.argv]),
               "machine": machine(), **numbers}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))
