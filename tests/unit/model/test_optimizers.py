"""Our Adam and SGD against torch.optim's: the same bytes step after step (they call torch's own
update functions), state that survives a save and load, and no torch._dynamo import."""

import copy
import subprocess
import sys

import pytest
import torch

from advpretrain.images.optim import LambdaSchedule, make_optimizer, schedule_factor
from advpretrain.model.optimizers import SGD, Adam


def _parameters(generator):
    return [torch.nn.Parameter(torch.randn(4, 6, generator=generator)),
            torch.nn.Parameter(torch.randn(6, generator=generator))]


def _run(optimizer, params, grads, scheduler=None, set_to_none=None):
    for step_grads in grads:
        if set_to_none is None:
            optimizer.zero_grad()
        else:
            optimizer.zero_grad(set_to_none=set_to_none)
        for param, grad in zip(params, step_grads):
            param.grad = grad.clone()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return [param.detach().clone() for param in params]


def _grads(steps, generator, params):
    return [[torch.randn(p.shape, generator=generator) for p in params] for _ in range(steps)]


def _same_bytes(ours, theirs):
    return all(torch.equal(a.view(torch.int32), b.view(torch.int32)) for a, b in zip(ours, theirs))


def test_adam_steps_are_torch_adams_bytes():
    generator = torch.Generator().manual_seed(0)
    ours = _parameters(generator)
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    grads = _grads(200, generator, ours)
    assert _same_bytes(_run(Adam(ours, lr=0.01), ours, grads),
                       _run(torch.optim.Adam(theirs, lr=0.01), theirs, grads, set_to_none=True))


@pytest.mark.parametrize("nesterov, weight_decay", [(True, 5e-4), (False, 0.0), (False, 2e-4)])
def test_sgd_with_a_schedule_is_torch_sgd_with_lambda_lr(nesterov, weight_decay):
    generator = torch.Generator().manual_seed(1)
    ours = _parameters(generator)
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    grads = _grads(120, generator, ours)
    factor = schedule_factor({"name": "cosine", "warmup_epochs": 2}, 120, 10)
    optimizer = SGD(ours, lr=0.05, momentum=0.9, weight_decay=weight_decay, nesterov=nesterov)
    schedule = LambdaSchedule(optimizer, factor)
    reference = torch.optim.SGD(theirs, lr=0.05, momentum=0.9, weight_decay=weight_decay,
                                nesterov=nesterov)
    reference_schedule = torch.optim.lr_scheduler.LambdaLR(reference, factor)
    assert _same_bytes(_run(optimizer, ours, grads, schedule),
                       _run(reference, theirs, grads, reference_schedule, set_to_none=True))
    assert schedule.get_last_lr() == reference_schedule.get_last_lr()


@pytest.mark.parametrize("name", ["sgd", "lars"])
def test_a_resumed_optimizer_continues_as_an_uninterrupted_one(name):
    generator = torch.Generator().manual_seed(2)
    first = _parameters(generator)
    second = [torch.nn.Parameter(p.detach().clone()) for p in first]
    grads = _grads(40, generator, first)
    settings = {"name": name, "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4,
                "nesterov": True, "eta": 0.001}
    schedule = {"name": "step", "milestones": [0.5], "gamma": 0.1, "warmup_epochs": 1}
    optimizer, scheduler = make_optimizer(first, settings, schedule, 4, 10)
    expected = _run(optimizer, first, grads, scheduler)
    optimizer, scheduler = make_optimizer(second, settings, schedule, 4, 10)
    _run(optimizer, second, grads[:15], scheduler)
    saved = copy.deepcopy({"optimizer": optimizer.state_dict(),
                           "scheduler": scheduler.state_dict()})
    optimizer, scheduler = make_optimizer(second, settings, schedule, 4, 10)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    assert _same_bytes(_run(optimizer, second, grads[15:], scheduler), expected)


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_a_torch_optim_resume_state_continues_in_ours(name):
    """A resume state written by torch.optim and LambdaLR (before these classes) loads and
    goes on with the bytes of an uninterrupted torch.optim run."""
    generator = torch.Generator().manual_seed(3)
    first = _parameters(generator)
    second = [torch.nn.Parameter(p.detach().clone()) for p in first]
    grads = _grads(30, generator, first)
    factor = schedule_factor({"name": "step", "milestones": [0.5], "gamma": 0.1,
                              "warmup_epochs": 1}, 30, 10)

    def torch_pair(params):
        optimizer = (torch.optim.Adam(params, lr=0.01) if name == "adam" else
                     torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4,
                                     nesterov=True))
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    optimizer, scheduler = torch_pair(first)
    expected = _run(optimizer, first, grads, scheduler, set_to_none=True)
    optimizer, scheduler = torch_pair(second)
    _run(optimizer, second, grads[:12], scheduler, set_to_none=True)
    saved = copy.deepcopy({"optimizer": optimizer.state_dict(),
                           "scheduler": scheduler.state_dict()})
    ours = (Adam(second, lr=0.01) if name == "adam" else
            SGD(second, lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True))
    schedule = LambdaSchedule(ours, factor)
    ours.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["scheduler"])
    assert _same_bytes(_run(ours, second, grads[12:], schedule), expected)


def test_training_with_them_does_not_import_dynamo():
    """torch.optim.Optimizer imports torch._dynamo when built: seconds of every training job."""
    code = ("import sys, torch; from advpretrain.images.optim import make_optimizer; "
            "from advpretrain.model.optimizers import Adam; "
            "p = torch.nn.Parameter(torch.ones(3)); p.grad = torch.ones(3); "
            "Adam([p], lr=0.1).step(); "
            "o, s = make_optimizer([p], {'name': 'sgd', 'lr': 0.1, 'momentum': 0.9, "
            "'weight_decay': 0.0, 'nesterov': False}, {'name': 'cosine', 'warmup_epochs': 0}, "
            "2, 2); o.step(); s.step(); "
            "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
