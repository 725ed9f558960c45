"""Lab 04's Glow configuration (the reference kept outside the package), its baseline and image
helpers."""

import math

import numpy as np
import pytest

from flowlab import data, density, eager, glow
from flowlab.course.grading.verifier import load_reference
from flowlab.tfenv import tf, tfb

reference = load_reference("glow")


@pytest.fixture(scope="module")
def digit_glow():
    bijector, flow = reference.make_glow((8, 8, 1), hidden=16, seed=0)
    split = data.digits()
    eager.initialize(flow, density.dequantize(split.train, split.levels, 0))
    return bijector, flow, split


def test_glow_shapes_and_splits(digit_glow):
    bijector, flow, _ = digit_glow
    assert isinstance(bijector, tfb.Glow)
    assert tuple(flow.event_shape) == (8, 8, 1)
    assert tuple(flow.distribution.event_shape) == (64,)
    assert [list(level) for level in bijector.blockwise_splits] == [[8, 0, 8], [2, 2, 0]]


def test_glow_inverts_and_its_density_is_finite(digit_glow):
    bijector, flow, split = digit_glow
    x = glow.dequantized(split, "test")[:16]
    # .numpy() breaks TFP's bijector cache, so the round trip is really computed.
    z = bijector.inverse(x).numpy()
    np.testing.assert_allclose(bijector.forward(z).numpy(), x, atol=1e-4)
    log_probs = eager.log_prob(flow, x)
    assert log_probs.shape == (16,) and np.all(np.isfinite(log_probs))


def test_the_reference_parameter_count():
    # 2 blocks of 4 steps on 8x8x1 with 128 channels: the reference the lab 04 verifier rebuilds.
    _, flow = reference.make_glow((8, 8, 1))
    assert sum(int(np.prod(v.shape)) for v in flow.trainable_variables) == 216604


def test_the_package_does_not_answer_build_glow():
    # Students import flowlab: a one-line call to the reference builder must not be available.
    assert not hasattr(glow, "make_glow")


def test_glow_with_weights_reproduces_a_trained_glow():
    split = data.digits()
    bijector, flow = reference.make_glow((8, 8, 1), seed=3)
    eager.initialize(flow, density.dequantize(split.train, split.levels, 0))
    for variable in flow.trainable_variables:  # as if trained: far from the initial values
        variable.assign_add(tf.random.normal(variable.shape, stddev=0.01, seed=1))
    x = glow.dequantized(split, "test")[:64]
    values = [np.asarray(v) for v in bijector.variables]
    _, rebuilt = reference.glow_with_weights(values, (8, 8, 1))
    np.testing.assert_allclose(reference.log_prob(rebuilt, x), eager.log_prob(flow, x), rtol=1e-4,
                               atol=1e-3)


def test_glow_with_weights_names_what_does_not_fit():
    bijector, _ = reference.make_glow((8, 8, 1), hidden=16)
    with pytest.raises(ValueError, match="has shape"):
        reference.glow_with_weights([np.asarray(v) for v in bijector.variables], (8, 8, 1))
    bijector, _ = reference.make_glow((8, 8, 1))
    values = [np.asarray(v) for v in bijector.variables]
    with pytest.raises(ValueError, match="variables; the lab's Glow has"):
        reference.glow_with_weights(values[:-1], (8, 8, 1))
    broken = [np.full_like(v, np.nan) if v.dtype.kind == "f" else v for v in values]
    with pytest.raises(ValueError, match="NaN"):
        reference.glow_with_weights(broken, (8, 8, 1))


def test_coupling_network_starts_at_zero():
    network = glow.coupling_network(hidden=8)((4, 4, 2))
    out = network(tf.random.normal([3, 4, 4, 2]))
    assert tuple(out.shape) == (3, 4, 4, 4)
    np.testing.assert_array_equal(out.numpy(), 0.0)


def test_dequantized_parts_are_fixed():
    split = data.digits()
    np.testing.assert_array_equal(glow.dequantized(split, "test"),
                                  density.dequantize(split.test, split.levels, 0))
    assert not np.array_equal(glow.dequantized(split, "validation")[:10],
                              density.dequantize(split.validation, split.levels, 0)[:10])


def test_to_grayscale_levels():
    patches = np.stack([np.zeros((8, 8, 3)), np.full((8, 8, 3), 255)]).astype(np.int64)
    patches[0, 0, 0] = [255, 0, 0]
    gray = glow.to_grayscale(patches, 17)
    assert gray.shape == (2, 8, 8, 1) and gray.dtype == np.int64
    assert gray[0, 0, 0, 0] == round(16 / 3) and gray[1].min() == 16 and gray[0, 1, 1, 0] == 0


def test_best_gaussian_mixture_picks_on_validation_and_scores_test():
    rng = np.random.default_rng(0)
    centres = rng.integers(0, 17, size=(3, 2, 2, 1))
    images = np.clip(centres[rng.integers(0, 3, 600)] + rng.integers(-1, 2, (600, 2, 2, 1)),
                     0, 16)
    split = data.ImageSplit(images[:400], images[400:500], images[500:], 17)
    result = glow.best_gaussian_mixture(split, grid=(("full", 1), ("full", 3)))
    assert result.setting == "3 components, full covariance"
    single = glow.best_gaussian_mixture(split, grid=(("full", 1),))
    assert result.test_bpd < single.test_bpd
    assert 0 < result.test_bpd < math.log2(17)


def test_reference_bits_per_dim_of_a_uniform_model_is_log2_of_the_levels():
    # A uniform density on [0, 1)^d has log p = 0: in the discrete convention that is
    # log2(levels) bits per dimension.
    assert reference.bits_per_dim(np.zeros(3), dims=64, levels=17) == pytest.approx(math.log2(17))
    assert reference.bits_per_dim([-64 * math.log(2)], dims=64, levels=256) == pytest.approx(9.0)
