"""Lab 02's lesson builders: the same numbers as a MAF on a bare network, but not the graded answer."""

import numpy as np

from flowlab import maf, training
from flowlab.tfenv import tf, tfb


def test_the_reference_layer_is_not_in_the_package():
    assert not hasattr(maf, "made_maf")


def test_stack_layers_compute_what_a_bare_network_maf_computes():
    stack = maf.maf_stack(1)
    layer = stack.bijectors[0]
    points = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    layer.forward(points)
    outputs = layer._shift_and_log_scale_fn
    # The lesson layer wraps its network, so it is not what the lab asks students to write ...
    assert not isinstance(outputs, tfb.AutoregressiveNetwork)
    # ... and computes the same map as the bare network with the same weights would.
    bare = tfb.AutoregressiveNetwork(params=2, hidden_units=list(maf.HIDDEN_UNITS), activation="relu")
    bare(points)
    bare.set_weights(outputs.network.get_weights())
    reference = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=bare)
    for method in ("forward", "inverse"):
        np.testing.assert_allclose(getattr(layer, method)(points), getattr(reference, method)(points),
                                   atol=1e-5)
    np.testing.assert_allclose(layer.forward_log_det_jacobian(points, event_ndims=1),
                               reference.forward_log_det_jacobian(points, event_ndims=1), atol=1e-5)


def test_bounded_layers_squash_the_log_scale():
    network = tfb.AutoregressiveNetwork(params=2, hidden_units=[8], activation="relu")
    bounded = maf.BoundedShiftAndLogScale(network, bound=0.5)
    x = tf.constant(np.random.default_rng(1).normal(size=(64, 2)).astype(np.float32) * 10)
    _, log_scale = bounded(x)
    assert np.all(np.abs(log_scale.numpy()) <= 0.5)  # float32 tanh reaches 1 for large inputs


def test_log_prob_model_is_named_for_the_grader():
    flow = maf.improved_flow(np.random.default_rng(2).normal(size=(64, 2)), layers=1)
    assert training.log_prob_model(flow, (2,)).name == training.LOG_PROB_MODEL_NAME
