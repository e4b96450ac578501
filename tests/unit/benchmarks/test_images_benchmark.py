"""The throughput benchmark's --tiny mode: every pipeline runs and the results file is complete."""

import json

from benchmarks import images_throughput


def test_tiny_benchmark_writes_results(tmp_path):
    out = tmp_path / "throughput.json"
    images_throughput.main(["--tiny", "--out", str(out)])
    result = json.loads(out.read_text())
    measured = {(row["pipeline"], row["mode"]) for row in result["results"]}
    assert measured == {(p, m) for p in ("ours", "reference") for m in ("clean", "pgd2")} | {
        ("ours", "simclr"), ("ours", "acl1")}
    assert all(row["images_per_s"] > 0 for row in result["results"])
    assert result["forward_flops_per_image"] > 0 and "--tiny" in result["command"]
    assert {"platform", "torch", "device"} <= set(result["machine"])
    assert set(result["speedup_ours_over_reference"]) == {"clean", "pgd2"}


def test_peak_is_picked_by_the_device_name():
    from advpretrain.images.cost import gpu_kind
    assert gpu_kind("NVIDIA H100 80GB HBM3") == "H100 SXM"
    assert gpu_kind("NVIDIA H100 PCIe") == "H100 PCIe"
    assert gpu_kind("NVIDIA H200") == "H200" and gpu_kind("NVIDIA A100-SXM4-80GB") == "A100"
    assert gpu_kind("Tesla T4") is None
