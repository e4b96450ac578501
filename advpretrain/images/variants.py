"""The CIFAR-10 pre-training variants: name -> (pre-training task, adversarial pre-training?)."""

VARIANTS = {
    "supervised_clean": ("supervised", False),
    "supervised_adversarial": ("supervised", True),
    "contrastive_clean": ("contrastive", False),
    "contrastive_adversarial": ("contrastive", True),
}
