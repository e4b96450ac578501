import torch

from advpretrain.model.networks import ACTIVATIONS, TwoLayerNets, gate, logistic_loss


def test_gate_zeroes_small_values_and_keeps_large_ones():
    v = torch.tensor([-1.0, -0.3, -0.29, 0.0, 0.29, 0.3, 2.0])
    expected = torch.tensor([-1.0, -0.3, 0.0, 0.0, 0.0, 0.3, 2.0])
    torch.testing.assert_close(gate(v, 0.3), expected)


def test_gate_gradient_is_the_indicator():
    v = torch.tensor([-1.0, -0.2, 0.1, 0.5], requires_grad=True)
    gate(v, 0.3).sum().backward()
    torch.testing.assert_close(v.grad, torch.tensor([1.0, 0.0, 0.0, 1.0]))


def test_symmetric_relu_is_odd():
    v = torch.linspace(-2, 2, 41)
    act = ACTIVATIONS["symmetric_relu"]
    torch.testing.assert_close(act(-v, 0.3), -act(v, 0.3))
    assert act(torch.tensor([0.2]), 0.3).item() == 0.0


def test_logistic_loss_is_stable():
    margins = torch.tensor([-100.0, 0.0, 100.0])
    torch.testing.assert_close(logistic_loss(margins),
                               torch.tensor([100.0, torch.log(torch.tensor(2.0)).item(), 0.0]))


def test_stacked_networks_are_independent():
    generator = torch.Generator().manual_seed(0)
    weight, head = TwoLayerNets.initial_parameters(3, 5, 4, 1.0, generator)
    nets = TwoLayerNets(weight, head, "gate", 0.1)
    z = torch.randn(3, 7, 4, generator=generator)
    out = nets(z)
    for n in range(3):
        single = TwoLayerNets(weight[n:n + 1], head[n:n + 1], "gate", 0.1)
        torch.testing.assert_close(out[n], single(z[n:n + 1])[0])
    score = nets.score(z, z)
    torch.testing.assert_close(score, (nets.hidden(z) ** 2).sum(-1))


def test_gate_with_zero_threshold_is_the_identity_with_gradient_one():
    v = torch.tensor([-0.5, 0.0, 0.7], requires_grad=True)
    gate(v, 0.0).sum().backward()
    torch.testing.assert_close(v.grad, torch.ones(3))


def test_gate_keeps_the_threshold_itself_in_float64():
    v = torch.tensor([0.3, 0.29999999999], dtype=torch.float64)
    assert gate(v, 0.3).tolist() == [0.3, 0.0]
