"""The throughput benchmark's --tiny mode: both pipelines run and the results file is complete."""

import json

from benchmarks import images_throughput as cifar_throughput


def test_tiny_benchmark_writes_results(tmp_path):
    out = tmp_path / "throughput.json"
    cifar_throughput.main(["--tiny", "--out", str(out)])
    result = json.loads(out.read_text())
    measured = {(row["pipeline"], row["mode"]) for row in result["results"]}
    assert measured == {(p, m) for p in ("ours", "reference") for m in ("clean", "pgd2")}
    assert all(row["images_per_s"] > 0 for row in result["results"])
    assert result["forward_flops_per_image"] > 0 and "--tiny" in result["command"]
    assert {"platform", "torch", "device"} <= set(result["machine"])
    assert set(result["speedup_ours_over_reference"]) == {"clean", "pgd2"}
