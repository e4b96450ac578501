"""The paper's model: the sparse-coding data (``sparse_coding``), the two-layer networks
(``networks``), the learning tasks (``tasks``), batched training (``training``) with its optimisers
(``optimizers``), the node measures (``measures``) and the backward-pass surrogates of the
activations (``surrogates``), shared by the training attack and the evaluation's adaptive attacks.
"""
