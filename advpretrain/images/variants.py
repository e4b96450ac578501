"""The pre-training variants of the real-image branch (torch-free: the Snakefile imports it).

name -> (pre-training task, adversarial pre-training?). The same four for every data set:

* ``supervised_clean``: cross-entropy on augmented images;
* ``supervised_adversarial``: PGD adversarial training (Madry et al.; recipe of Rice et al.);
* ``contrastive_clean``: SimCLR (NT-Xent on two augmented views);
* ``contrastive_adversarial``: ACL (Jiang et al. 2020, "ACL(DS)"): dual BatchNorm, the clean
  pair's NT-Xent through the clean branch plus the attacked pair's through the adversarial one.
"""

VARIANTS = {
    "supervised_clean": ("supervised", False),
    "supervised_adversarial": ("supervised", True),
    "contrastive_clean": ("contrastive", False),
    "contrastive_adversarial": ("contrastive", True),
}


def task_of(variant: str) -> str:
    """"supervised" or "contrastive"."""
    return VARIANTS[variant][0]


def is_adversarial(variant: str) -> bool:
    return VARIANTS[variant][1]


def dual_bn(variant: str) -> bool:
    """Variants trained with two BatchNorm branches (clean and adversarial): ACL."""
    return variant == "contrastive_adversarial"
