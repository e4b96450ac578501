"""Which heavy modules each Python process of a build had loaded when it ended, and how long it
lived: put this folder on PYTHONPATH and name a file in ADVPRETRAIN_MODULE_PROBE, e.g.

    export ADVPRETRAIN_MODULE_PROBE=$PWD/modules.jsonl PYTHONPATH=$PWD/benchmarks/module_probe
    make reproduce
    python benchmarks/where_time_goes.py results --modules modules.jsonl

Each process appends one JSON line: its script (a Snakemake job's is
``.snakemake/scripts/tmpXXXX.<rule script>.py``), its seconds alive and the modules of
``HEAVY`` it loaded. It finds imports that happen at run time, which the start-up probe of
``where_time_goes.py`` (the script's imports alone) cannot see: ``torch._dynamo`` from
``torch.optim.Optimizer``, ``torch._inductor`` from ``torch.use_deterministic_algorithms``
(docs/performance.md). Without ADVPRETRAIN_MODULE_PROBE it does nothing; on PYTHONPATH it hides
any other sitecustomize for that build.
"""

import atexit
import json
import os
import sys
import time

HEAVY = ("torch", "torch._dynamo", "torch._inductor", "torchvision", "pandas", "scipy.stats",
         "scipy.optimize", "matplotlib", "seaborn", "sklearn", "pyautoattack", "pyscipopt")
_OUT = os.environ.get("ADVPRETRAIN_MODULE_PROBE")
_START = time.time()


def _record():
    script = next((arg for arg in sys.argv if arg.endswith(".py")), " ".join(sys.argv)[:80])
    line = json.dumps({"script": os.path.basename(script), "pid": os.getpid(),
                       "seconds": round(time.time() - _START, 3),
                       "loaded": [name for name in HEAVY if name in sys.modules]})
    with open(_OUT, "a") as out:
        out.write(line + "\n")


if _OUT:
    atexit.register(_record)
