"""Glue for the thin scripts in scripts/: threads, logging to the rule's log file, errors."""

import contextlib
import os
import sys
import traceback


@contextlib.contextmanager
def job(snakemake):
    """Run a Snakemake job body with its thread count and everything it prints in its log.

    A failure is written to the log with its traceback and re-raised, so Snakemake marks the job
    failed and removes its partial outputs.
    """
    import torch  # here, not at module level: the Snakefile imports this module to parse

    torch.set_num_threads(max(1, int(snakemake.threads)))
    log_path = snakemake.log[0] if snakemake.log else None
    stream = open(log_path, "w", buffering=1) if log_path else sys.stderr
    with stream, contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        try:
            yield
        except BaseException:
            traceback.print_exc(file=stream)
            raise


def make_package_importable(repo_root):
    """Put the checkout on PYTHONPATH so every job (local or cluster) imports this package."""
    paths = [str(repo_root), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
