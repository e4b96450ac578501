"""What is recorded beside each output."""

import torch

from advpretrain.core.fileio import provenance


def test_provenance_records_the_machine(tmp_path):
    """Same bytes are promised on one machine only, so the record names it: a build on another
    CPU can be told apart from a change of code (the digits tables moved between two hosts with
    byte-identical code)."""
    data = tmp_path / "data.txt"
    data.write_text("x")
    record = provenance("rule", {"seed": "0"}, {"a": 1}, {"data": str(data)}, [str(data)])
    assert record["machine"]["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["machine"]["cpu"] and record["machine"]["platform"]
    assert record["inputs"] == record["outputs"] and len(record["settings_sha256"]) == 64
