#!/usr/bin/env bash
# The GPU check in one command (README, "GPU check"): the machine's own python3 and PyTorch,
# this repository on PYTHONPATH (nothing installed), a carried pyautoattack wheel in .whl/
# installed into a scratch folder if there is one, and a hard stop at 8 minutes. Writes
# benchmarks/results/device_check.json (or in the folder that OUT names, or --out PATH); every
# other argument goes to benchmarks/device_check.py
# (--tiny: every section tiny, on the CPU). PYTHON overrides the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
# One line, not a traceback, when the interpreter lacks what the check imports.
if ! "$python" -c "import numpy, pandas, torch" 2>/dev/null; then
    echo "device_check.sh: $python lacks numpy, pandas or torch; give a Python that has them," \
        "e.g. PYTHON=.venv/bin/python after make setup" >&2
    exit 2
fi
if compgen -G ".whl/*.whl" >/dev/null; then
    site=$(mktemp -d)
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --target "$site" .whl/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# 8 minutes in all; the sections' own budgets (--budget, 420 s) end well before that.
exec timeout --kill-after=10 480 "$python" -m benchmarks.device_check "$@"
