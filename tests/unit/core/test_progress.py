"""Progress lines fit for log files: one line per report with loss, accuracy, rate and time left."""

import io

from advpretrain.core.progress import Progress


def test_one_plain_line_per_report():
    stream = io.StringIO()
    progress = Progress("pretrain x", 10, unit="epochs", stream=stream, item_name="images")
    progress.report(4, items=4000, loss=0.5, accuracy=0.75)
    progress.report(5, items=5000, loss=0.4, accuracy=0.8)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[0].startswith("[pretrain x] 4/10 | loss 0.5 accuracy 0.75 | ")
    assert "images/s" in lines[0] and "elapsed " in lines[0] and "left " in lines[0]


def test_rate_without_items_counts_units():
    stream = io.StringIO()
    Progress("t", 3, stream=stream).report(1, loss=1.0)
    assert "steps/s" in stream.getvalue()
