"""Lab 06's verifier compares an IAF's values only where the rebuilt reference is finite: an
untrained IAF can overflow at a rare probe (CI saw the reference itself lose make_iaf to a nan)."""

import numpy as np
import pytest

from flowlab import course
from flowlab.course.grading import verifier

lab06 = verifier.load("lab06_inference", course.VERIFIERS).module
compare = lab06.expect_close_where_finite


def test_values_that_overflow_where_the_reference_overflows_pass():
    reference = np.array([1.0, np.nan, -2.0, 3.0, np.inf, 0.5, 7.0, 8.0])
    compare(reference + 1e-4, reference, "log_prob")


@pytest.mark.parametrize("student, problem", [
    (np.array([1.0, 2.0, -2.0, 3.0, 4.0, 0.5, 7.0, 8.0]), "not finite where it should be"),
    (np.array([1.0, np.nan, -2.0, 3.0, np.inf, 0.5, 7.0, 9.0]), "is not what it should be"),
    (np.ones(7), "should have shape"),
    (np.array([1.0, np.nan, -2.0, 3.0, -np.inf, 0.5, 7.0, 8.0]), "opposite infinity"),
])
def test_a_wrong_value_or_pattern_of_overflow_fails(student, problem):
    reference = np.array([1.0, np.nan, -2.0, 3.0, np.inf, 0.5, 7.0, 8.0])
    with pytest.raises(AssertionError, match=problem):
        compare(student, reference, "log_prob")


def test_a_reference_that_mostly_overflows_fails_with_a_reason():
    reference = np.array([np.nan] * 5 + [1.0] * 3)
    with pytest.raises(AssertionError, match="overflows at 5 of 8"):
        compare(reference.copy(), reference, "log_prob")


def test_untrained_iafs_are_finite_at_the_make_iaf_probes():
    from flowlab.tfenv import tf

    for seed in range(20):
        tf.random.set_seed(seed)
        flow, _ = lab06._reference_iaf(**lab06.IAF_CHECK)
        probes = lab06.probes(np.random.default_rng(seed))
        assert np.isfinite(np.asarray(flow.bijector.forward(probes["z3"]))).all()
        assert np.isfinite(np.asarray(flow.log_prob(probes["x3"]))).all()


def test_one_huge_weight_does_not_move_the_median_log_z_but_a_biased_proposal_does():
    rng = np.random.default_rng(0)
    log_z = 1.7
    log_weights = log_z + 0.05 * rng.standard_normal(20000) - 0.05**2 / 2
    plain = lab06.reference_log_z(log_weights)[0]
    assert abs(plain - log_z) < 0.01 and abs(lab06.median_log_z(log_weights, 10) - log_z) < 0.01
    spoiled = log_weights.copy()
    spoiled[123] = log_z + np.log(20000) + 0.7  # one sample where q is e^10.6 times thinner than p
    assert lab06.reference_log_z(spoiled)[0] - log_z > 1.0
    assert abs(lab06.median_log_z(spoiled, 10) - log_z) < 0.01
    assert abs(lab06.median_log_z(log_weights - 0.5, 10) - (log_z - 0.5)) < 0.01
