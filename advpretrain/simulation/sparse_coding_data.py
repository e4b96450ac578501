"""The data stage: one seed's sparse-coding data set (``model.sparse_coding``).
"""

from collections.abc import Mapping

from advpretrain.core import fileio
from advpretrain.core.seeding import derive_seed, numpy_rng
from advpretrain.model.sparse_coding import DataModel, make_dataset


def sparse_coding_data(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """The data stage: one seed's data set, written once (``outputs["data"]``)."""
    data = settings["data"]
    seed = derive_seed(settings["base_seed"], "data", settings["seed_index"])
    model = DataModel(d=data["d"], s=data["s"], sigma=data["sigma"], magnitudes=data["magnitudes"])
    arrays = make_dataset(model, data["sizes"], numpy_rng(seed), data["similar_share"])
    fileio.save_arrays(outputs["data"], arrays)
    return {"seeds": {"seed_index": settings["seed_index"], "seed": seed}}
