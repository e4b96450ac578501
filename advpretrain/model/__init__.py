"""The paper's model: the sparse-coding data (``sparse_coding``), the two-layer networks
(``networks``), the learning tasks (``tasks``), batched training (``training``) and the node
measures (``measures``).
"""
