"""Readable progress lines for log files: no carriage-return bars, one line per report.
"""

import sys
import time


def _clock(seconds):
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Prints ``label step/total | metrics | rate | elapsed | left`` every call of ``report``."""

    def __init__(self, label, total, unit="steps", stream=None, done_at_start=0,
                 item_name="items"):
        self.label, self.total, self.unit, self.item_name = label, total, unit, item_name
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.done_at_start = done_at_start

    def report(self, done, items=None, **metrics):
        """``items``: work done since the start of this process (e.g. images), for the rate."""
        now = time.perf_counter() - self.start
        fresh = done - self.done_at_start
        rate = fresh / now if now > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else float("nan")
        shown = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in metrics.items())
        throughput = f"{items / now:.0f} {self.item_name}/s" if items is not None and now > 0 else \
            f"{rate:.1f} {self.unit}/s"
        left_text = _clock(left) if left == left else "?"
        print(f"[{self.label}] {done}/{self.total} | {shown} | {throughput} | "
              f"elapsed {_clock(now)} | left {left_text}", file=self.stream, flush=True)
