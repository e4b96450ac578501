"""The real-image data sets the branch knows, as plain facts (torch-free: the Snakefile and the
cost model import it).

Pixels are always floats in [0, 1] inside the models (which normalise internally), so attacks
work in pixel space. Attack budgets in the config are in grey levels of the data set: 1/255 for
CIFAR-10 (8-bit images), 1/16 for the digits (each 8x8 pixel counts the pen pixels of a 4x4 block
of the 32x32 bitmap, 0-16).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetSpec:
    channels: int
    size: int                 # images are size x size
    classes: int
    levels: int               # grey levels: pixel value = count / levels
    mean: tuple               # per-channel mean and std of the training pixels in [0, 1]
    std: tuple
    train_images: int         # images of the training split before the validation hold-out
    test_images: int
    description: str


DATASETS = {
    "cifar10": DatasetSpec(
        channels=3, size=32, classes=10, levels=255,
        mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
        train_images=50000, test_images=10000,
        description="CIFAR-10 (official python archive), 32x32 RGB, 8-bit"),
    "digits": DatasetSpec(
        channels=1, size=8, classes=10, levels=16, mean=(0.3053,), std=(0.3760,),
        train_images=1797, test_images=0,
        description="scikit-learn's bundled UCI optical digits, 8x8, 17 grey levels (0-16)"),
}


def spec(dataset: str) -> DatasetSpec:
    return DATASETS[dataset]


def split_sizes(dataset: str, data: dict) -> dict:
    """Images in the train / val / test splits from a data set's ``data`` config section."""
    facts = DATASETS[dataset]
    if dataset == "cifar10":
        val = data["validation_size"]
        return {"train": facts.train_images - val, "val": val, "test": facts.test_images}
    val, test = data["validation_size"], data["test_size"]
    return {"train": facts.train_images - val - test, "val": val, "test": test}


def pixel_budget(attack, levels):
    """(eps, step size) in pixels of an attack given in grey levels ({"eps", "step", ...})."""
    return attack["eps"] / levels, attack["step"] / levels
