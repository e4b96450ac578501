"""Run commands side by side, each line of their output printed as it comes with the command's
label; exit with the first non-zero status (`make test`'s workflow stage).

    python tools/side_by_side.py LABEL="command ..." LABEL="command ..."

The workflow stage has two halves that share nothing: the tests of the shared test build (marker
`shared_build`, added in tests/conftest.py), which one pytest process builds once and then
reads, and every other workflow and SLURM test, each with its own small build. Side by side they
fill both cores of a 2-core host. pytest-xdist's `--dist loadgroup` would do this inside one
pytest, but with pytest 9.2 it groups nothing (xdist 3.8 renames `item._nodeid`, which pytest 9.2
no longer reads), so each worker built the shared test build again.

A developer tool: standard library only.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading


def relay(label: str, process: subprocess.Popen, lock: threading.Lock) -> None:
    for line in process.stdout:
        with lock:
            sys.stdout.write(f"[{label}] {line}")
            sys.stdout.flush()


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not all("=" in argument for argument in argv):
        raise SystemExit(__doc__.split("\n\n")[1])
    lock = threading.Lock()
    running = []
    for argument in argv:
        label, command = argument.split("=", 1)
        process = subprocess.Popen(shlex.split(command), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        thread = threading.Thread(target=relay, args=(label, process, lock))
        thread.start()
        running.append((label, process, thread))
    statuses = []
    for label, process, thread in running:
        thread.join()
        statuses.append(process.wait())
        print(f"[{label}] exit status {statuses[-1]}", flush=True)
    return next((status for status in statuses if status != 0), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
