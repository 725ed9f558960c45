"""flowlab.coupling: RealNVP stacks agree with a coupling computed by hand."""

import numpy as np
import pytest

from flowlab import coupling, training
from flowlab.tfenv import tf, tfb


def _randomize(model, scale=0.5, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=scale, size=w.shape) for w in model.get_weights()])


def test_network_starts_at_zero_and_bounds_the_log_scale():
    net = coupling.shift_and_log_scale_network(3, 2, hidden_units=16)
    shift, log_scale = net(np.ones((4, 3), np.float32))
    assert shift.shape == (4, 2) and log_scale.shape == (4, 2)
    assert np.all(shift.numpy() == 0) and np.all(log_scale.numpy() == 0)
    _randomize(net, scale=2.0)
    shift, log_scale = net(50 * np.random.default_rng(1).normal(size=(100, 3)).astype(np.float32))
    assert np.abs(log_scale.numpy()).max() <= 1.0
    assert np.abs(shift.numpy()).max() > 1.0


def test_one_coupling_matches_the_formula():
    chain = coupling.realnvp_chain(5, 1, hidden_units=8)
    x = np.random.default_rng(2).normal(size=(7, 5)).astype(np.float32)
    # The coupling's network is the default argument bound into its shift-and-log-scale lambda.
    net = chain.bijectors[0]._shift_and_log_scale_fn.__defaults__[0]
    _randomize(net, seed=3)
    shift, log_scale = (o.numpy() for o in net(x[:, :2]))
    expected = np.concatenate([x[:, :2], x[:, 2:] * np.exp(log_scale) + shift], axis=1)
    np.testing.assert_allclose(chain.forward(x).numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(chain.forward_log_det_jacobian(x, event_ndims=1).numpy(),
                               log_scale.sum(axis=1), atol=1e-5)
    np.testing.assert_allclose(chain.inverse(expected).numpy(), x, atol=1e-5)


def test_chain_has_its_own_network_per_coupling_and_mixes_every_dimension():
    flow = coupling.realnvp_flow(4, 3, hidden_units=8)
    model = training.log_prob_model(flow, (4,))
    assert model.count_params() == 3 * ((2 * 8 + 8) + (8 * 8 + 8) + (8 * 4 + 4))
    _randomize(model, seed=4)
    x = tf.constant(np.random.default_rng(5).normal(size=(16, 4)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = flow.bijector.forward(x)
    jacobian = tape.batch_jacobian(y, x).numpy()
    assert np.all(np.abs(jacobian).max(axis=0) > 1e-6)
    np.testing.assert_allclose(flow.bijector.forward_log_det_jacobian(x, event_ndims=1).numpy(),
                               np.log(np.abs(np.linalg.det(jacobian))), atol=1e-3)


def test_permutations_are_used_in_order_and_validated():
    chain = coupling.realnvp_chain(4, 3, hidden_units=4, permutations=[[1, 3, 0, 2], [2, 0, 3, 1]])
    orders = [list(np.asarray(b.permutation)) for b in chain.bijectors
              if isinstance(b, tfb.Permute)]
    assert orders == [[1, 3, 0, 2], [2, 0, 3, 1]]
    with pytest.raises(ValueError, match="need 2 permutations"):
        coupling.realnvp_chain(4, 3, permutations=[[1, 3, 0, 2]])
    first, second = coupling.random_permutations(6, 2, seed=0)
    assert sorted(first) == list(range(6)) and not np.array_equal(first, second)
    np.testing.assert_array_equal(coupling.random_permutations(6, 2, seed=0)[1], second)


def test_cost_reports_both_directions():
    rows = coupling.cost({"RealNVP": coupling.realnvp_flow(2, 2, 8)}, points=100, repeats=1)
    assert rows[0]["flow"] == "RealNVP"
    assert rows[0]["log_prob_seconds"] > 0 and rows[0]["sample_seconds"] > 0
