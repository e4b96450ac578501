"""Adam and SGD as torch.optim computes them, without ``torch.optim.Optimizer``.

Building any ``torch.optim.Optimizer`` imports ``torch._dynamo`` (about 1 s on the idle 2-core
VM, 2 s beside another job), paid again by each of the 60 jobs of the paper's CPU DAG that train
something (docs/performance.md). These classes call torch's own update functions
(``torch.optim.adam.adam``, ``torch.optim.sgd.sgd``, which choose the same single-tensor or
foreach kernels as the classes do) on per-parameter state laid out as torch's, so a step gives
torch's bytes (tests/unit/model/test_optimizers.py); only the bookkeeping is ours: one parameter
group, its learning rate, ``zero_grad``, ``state_dict`` / ``load_state_dict``.
"""

from __future__ import annotations

import torch
from torch.optim.adam import adam
from torch.optim.sgd import sgd


def step_dtype() -> torch.dtype:
    """The dtype of Adam's step count, as torch.optim picks it (_get_scalar_dtype)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


class Optimizer:
    """One parameter group: the parameters, a learning rate ``lr`` (a schedule may set it) and
    a state dict per parameter."""

    def __init__(self, params, lr: float):
        self.params = list(params)
        self.lr = lr
        self.state: list[dict] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    def with_grad(self) -> list[tuple[torch.Tensor, dict]]:
        """(parameter, its state) for each parameter that has a gradient, in order."""
        return [(param, state) for param, state in zip(self.params, self.state)
                if param.grad is not None]

    def state_dict(self) -> dict:
        return {"lr": self.lr, "state": [dict(state) for state in self.state]}

    def load_state_dict(self, saved: dict) -> None:
        """Our ``state_dict``, or a one-group torch.optim one of the same update (a resume state
        written before these classes: its per-parameter state has the same keys)."""
        if "param_groups" in saved:
            saved = {"lr": saved["param_groups"][0]["lr"],
                     "state": [saved["state"].get(index, {}) for index in
                               saved["param_groups"][0]["params"]]}
        if len(saved["state"]) != len(self.params):
            raise ValueError(f"optimizer state for {len(saved['state'])} parameters, "
                             f"this optimizer has {len(self.params)}")
        self.lr = saved["lr"]
        # As torch does: state tensors onto their parameter's device, the step count stays put.
        self.state = [{key: value if key == "step" or not torch.is_tensor(value)
                       else value.to(device=param.device, dtype=param.dtype)
                       for key, value in state.items()}
                      for param, state in zip(self.params, saved["state"])]


class Adam(Optimizer):
    """``torch.optim.Adam(params, lr)`` with its defaults (betas 0.9 / 0.999, eps 1e-8)."""

    BETAS, EPS = (0.9, 0.999), 1e-8

    @torch.no_grad()
    def step(self) -> None:
        pairs = self.with_grad()
        for param, state in pairs:
            if not state:  # torch's first-step state: a CPU step count and two zero tensors
                state["step"] = torch.tensor(0.0, dtype=step_dtype(), device="cpu")
                state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(param,
                                                       memory_format=torch.preserve_format)
        adam([param for param, _ in pairs], [param.grad for param, _ in pairs],
             [state["exp_avg"] for _, state in pairs],
             [state["exp_avg_sq"] for _, state in pairs], [],
             [state["step"] for _, state in pairs],
             amsgrad=False, has_complex=False, beta1=self.BETAS[0], beta2=self.BETAS[1],
             lr=self.lr, weight_decay=0.0, eps=self.EPS, maximize=False, foreach=None,
             capturable=False, differentiable=False, fused=None, grad_scale=None,
             found_inf=None, decoupled_weight_decay=False)


class SGD(Optimizer):
    """``torch.optim.SGD(params, lr, momentum, weight_decay, nesterov)`` (no dampening)."""

    def __init__(self, params, lr: float, momentum: float, weight_decay: float, nesterov: bool):
        super().__init__(params, lr)
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov

    @torch.no_grad()
    def step(self) -> None:
        pairs = self.with_grad()
        buffers = [state.get("momentum_buffer") for _, state in pairs]
        sgd([param for param, _ in pairs], [param.grad for param, _ in pairs], buffers,
            weight_decay=self.weight_decay, momentum=self.momentum, lr=self.lr, dampening=0.0,
            nesterov=self.nesterov, maximize=False, has_sparse_grad=False, foreach=None,
            fused=None, grad_scale=None, found_inf=None)
        if self.momentum != 0:
            for (_, state), buffer in zip(pairs, buffers):
                state["momentum_buffer"] = buffer
