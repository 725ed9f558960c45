"""Trusted checks of lab 01 (bijectors): judged outside the student's kernel on fresh probes."""

import numpy as np

from flowlab import checks, density
from flowlab.course.grading.verifier import Task

SCALE = np.array([1.0, 0.5])
SHIFT = np.array([0.5, 0.25])
LOG_2PI = np.log(2 * np.pi)


def probes(rng):
    return {"points": (1.5 * rng.standard_normal((16, 2))).astype(np.float32),
            "z": (1.5 * rng.standard_normal((16, 2))).astype(np.float32),
            "x": (SHIFT + 2.0 * rng.standard_normal((16, 2))).astype(np.float32)}


def normal_log_prob(x, loc, scale):
    """log N(x; loc, diag(scale²)) with event shape [2], in closed form."""
    standardized = (x - loc) / scale
    return -0.5 * np.sum(standardized**2, axis=-1) - np.sum(np.log(scale)) - LOG_2PI



def judge_make_moons(ev):
    x = ev.array("X")
    checks.expect_shape(x, (10000, 2), "X")
    checks.expect(np.all(np.isfinite(x)), "X contains NaN or infinite values.")
    checks.expect(abs(x[:, 0].mean() - 0.5) < 0.05 and abs(x[:, 1].mean() - 0.25) < 0.05,
                  f"X should be centred near (0.5, 0.25), like make_moons data; its mean is {x.mean(0)}.")
    # Under the true density with noise 0.05, make_moons(noise=0.05) data scores an NLL near 0.29
    # nats; other noise levels or other generators score far worse (circles: > 10).
    nll = density.moons_true_nll(x[:3000], noise=0.05)
    checks.expect(nll < 0.45, f"X does not look like make_moons(noise=0.05) data (NLL {nll:.3f}).")
    checks.expect(nll > 0.15, f"X is too concentrated for noise 0.05 (NLL {nll:.3f}).")


def judge_base_sampling(ev):
    ev.expect_kind("kind", "base", "Distribution")
    checks.expect_shape(ev.array("event_shape"), (1,), "the event shape's rank")
    checks.expect(ev.array("event_shape").tolist() == [2],
                  f"base.event_shape should be [2], is {ev.array('event_shape').tolist()}.")
    checks.expect(ev.array("batch_shape").size == 0,
                  f"base.batch_shape should be [], is {ev.array('batch_shape').tolist()}.")
    points = ev.probes["points"].astype(np.float64)
    checks.expect_close(ev.array("log_prob"), normal_log_prob(points, 0.0, np.ones(2)),
                        "base.log_prob", atol=1e-4)
    z = ev.array("z")
    checks.expect_shape(z, (10000, 2), "z")
    checks.expect(np.all(np.abs(z.mean(0)) < 0.06), f"z should have mean 0, has {z.mean(0)}.")
    checks.expect_close(np.cov(z.T), np.eye(2), "the covariance of z", atol=0.08)


def judge_bijectors(ev):
    ev.expect_kind("scale_kind", "scale", "Scale")
    ev.expect_kind("shift_kind", "shift", "Shift")
    points = ev.probes["points"].astype(np.float64)
    checks.expect_close(ev.array("scale_forward"), points * SCALE, "scale.forward", atol=1e-4)
    checks.expect_close(ev.array("shift_forward"), points + SHIFT, "shift.forward", atol=1e-4)
    checks.expect_close(ev.array("scale_inverse"), points / SCALE, "scale.inverse", atol=1e-4)
    checks.expect_close(ev.array("shift_inverse"), points - SHIFT, "shift.inverse", atol=1e-4)


def judge_composition(ev):
    ev.expect_kind("kind", "scale_and_shift", "Bijector")
    z = ev.probes["z"].astype(np.float64)
    x = ev.probes["x"].astype(np.float64)
    checks.expect_close(ev.array("forward"), z * SCALE + SHIFT, "scale_and_shift.forward(z)", atol=1e-4)
    checks.expect_close(ev.array("inverse"), (x - SHIFT) / SCALE, "scale_and_shift.inverse(x)", atol=1e-4)
    checks.expect_close(ev.array("round_trip"), z, "the round trip inverse(forward(z))", atol=1e-4)
    checks.expect_close(ev.array("log_det"), np.full(len(z), np.log(0.5)), "forward_log_det_jacobian",
                        atol=1e-4)


def judge_transformed(ev):
    ev.expect_kind("kind", "transformed", "TransformedDistribution")
    checks.expect(ev.array("event_shape").tolist() == [2],
                  f"transformed.event_shape should be [2], is {ev.array('event_shape').tolist()}.")
    checks.expect_shape(ev.array("sample7"), (7, 2), "transformed.sample(7)")
    x = ev.probes["x"].astype(np.float64)
    checks.expect_close(ev.array("log_prob"), normal_log_prob(x, SHIFT, SCALE), "transformed.log_prob",
                        atol=1e-4)
    draws = ev.array("draws")
    checks.expect_shape(draws, (20000, 2), "transformed.sample(20000)")
    checks.expect_close(draws.mean(0), SHIFT, "the mean of transformed samples", atol=0.03)
    checks.expect_close(draws.std(0), SCALE, "the spread of transformed samples", atol=0.03)


TASKS = [
    Task("make_moons_test", {"X": "X"}, judge_make_moons),
    Task("base_sampling_test", {"kind": "_kind(base)", "event_shape": "list(base.event_shape)",
                                "batch_shape": "list(base.batch_shape)",
                                "log_prob": "base.log_prob(_P.points)", "z": "z"},
         judge_base_sampling),
    Task("bijectors_test", {"scale_kind": "_kind(scale)", "shift_kind": "_kind(shift)",
                            "scale_forward": "scale.forward(_P.points)",
                            "shift_forward": "shift.forward(_P.points)",
                            "scale_inverse": "scale.inverse(_P.points)",
                            "shift_inverse": "shift.inverse(_P.points)"},
         judge_bijectors),
    Task("composition_test", {"kind": "_kind(scale_and_shift)",
                              "forward": "scale_and_shift.forward(_P.z)",
                              "inverse": "scale_and_shift.inverse(_P.x)",
                              "round_trip": "scale_and_shift.inverse(scale_and_shift.forward(_P.z))",
                              "log_det": "_np.broadcast_to(scale_and_shift.forward_log_det_jacobian("
                                         "_P.z, event_ndims=1), (len(_P.z),))"},
         judge_composition),
    Task("transformed_test", {"kind": "_kind(transformed)",
                              "event_shape": "list(transformed.event_shape)",
                              "sample7": "transformed.sample(7)", "log_prob": "transformed.log_prob(_P.x)",
                              "draws": "transformed.sample(20000)"},
         judge_transformed),
]
