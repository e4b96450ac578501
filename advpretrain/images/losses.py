"""Per-sample losses: the attacks ascend their sum, training descends their mean."""

import torch
from torch.nn import functional as F


def contrastive_logits(z1, z2, temperature):
    """Scores of each of the 2N projections against the 2N - 1 others, and its partner's index.

    Cosine similarity over ``temperature``, in float32 whatever the autocast precision.
    """
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    n = z1.shape[0]
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    index = torch.arange(2 * n, device=z.device)  # made on the device: no host-to-device copy
    partner = (index + n) % (2 * n)
    return logits, partner


def nt_xent(logits, partner):
    """SimCLR's NT-Xent, one value per pair (the mean over the pair's two anchors)."""
    per_anchor = F.cross_entropy(logits, partner, reduction="none")
    n = len(partner) // 2
    return (per_anchor[:n] + per_anchor[n:]) / 2


def cross_entropy(logits, labels):
    return F.cross_entropy(logits.float(), labels, reduction="none")
