"""Trusted checks of lab 05 (beyond affine layers): judged outside the student's kernel on fresh
probes.

Elementwise maps, spline parameters, spectral normalisation, the fixed point, the trace estimator
and the residual log-det are called on inputs drawn per run and compared with the NumPy references
of ``autograder/reference/beyond_affine.py``. The spline coupling flow gets network weights drawn per
run and is compared with the reference flow carrying the same weights; the trained spline flow is
rebuilt here from its weights (on points standardised as in the lab), shown to reproduce the
student's own log-densities, and scored by the grader on two-moons points the notebook never saw.
"""

import numpy as np

import flowlab.tfenv  # noqa: F401  (the judges rebuild flows in TFP: loaded by the grading zygote once)
from flowlab import checks, data
from flowlab.course.grading.verifier import Task, load_reference

reference = load_reference("beyond_affine")

PWL_BINS = 5
SPLINE_BINS, SPLINE_BOUND = 7, 2.5
COUPLING_CHECK = {"dims": 2, "layers": 3, "bins": 5, "hidden": 8, "bound": 3.0}
# The trained spline flow's NLL (nats) on 5000 two-moons points drawn for the grading run. The
# grading budget trains it for 4 epochs. On raw points the reference at seeds 0-4 read up to 0.668
# in three audits; trained on standardised points, its worst was 0.528; trained with eager.fit (as
# since), 0.521: margin 0.279.
# Wrong answers that train a different flow fail the rebuild first; the narrow-interval one, scored
# as rebuilt, read 12.0.
SPLINE_MOONS_LIMIT = 0.80
FRESH_MOONS = 5000


def _spectrum(rng, shape, top):
    """A matrix of ``shape`` whose singular values fall from ``top`` to ``top / 8``, well separated
    (so that 30 power-iteration steps converge)."""
    m, n = shape
    u, _ = np.linalg.qr(rng.standard_normal((m, m)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = np.zeros((m, n))
    k = min(m, n)
    s[np.arange(k), np.arange(k)] = top * np.linspace(1.0, 0.25, k) ** 1.5
    return (u @ s @ v.T).astype(np.float32)


def probes(rng):
    x = rng.uniform(size=32)
    x[:3] = (0.0, 1.0, 0.4)  # both ends and a bin edge of 5 bins
    moons = data.two_moons(256, random_state=int(rng.integers(1000, 10**6)))
    return {
        "seed": np.array([rng.integers(0, 2**31)]),
        "pwl_x": x.astype(np.float32),
        "pwl_y": rng.uniform(0.001, 0.999, size=32).astype(np.float32),
        "pwl_logits": (1.5 * rng.standard_normal((32, PWL_BINS))).astype(np.float32),
        "raw": (4.0 * rng.standard_normal((6, 3 * SPLINE_BINS - 1))).astype(np.float32),
        "points": (np.array([0.5, 0.25]) + 1.2 * rng.standard_normal((64, 2))).astype(np.float32),
        "moons_x": np.concatenate([moons, 1.5 * rng.standard_normal((64, 2))]).astype(np.float32),
        "kernel_wide": _spectrum(rng, (4, 12), rng.uniform(2.0, 4.0)),
        "kernel_small": _spectrum(rng, (12, 12), rng.uniform(0.3, 0.6)),
        "kernel_tall": _spectrum(rng, (12, 3), rng.uniform(1.2, 2.0)),
        "fp_x": (1.5 * rng.standard_normal((16, 3))).astype(np.float32),
        "fp_w": _spectrum(rng, (3, 3), 0.7),
        "diag": np.stack([np.diag(d) for d in rng.standard_normal((5, 4))]).astype(np.float32),
        "dense": rng.standard_normal((5, 4, 4)).astype(np.float32),
        "ld_z": rng.standard_normal((8, 3)).astype(np.float32),
        "ld_a": _spectrum(rng, (3, 3), 0.9),
        "ld_b": _spectrum(rng, (3, 3), 0.8),
        "ff_t": rng.uniform(0.1, 0.9, size=2).astype(np.float32),
        "ff_x": (1.5 * rng.standard_normal((10, 2))).astype(np.float32),
        "moons_seed": np.array([rng.integers(1000, 10**6)]),
    }


def _weight_list(value, what):
    """A collected list of weight arrays (equal shapes may arrive stacked as one array)."""
    if isinstance(value, np.ndarray):
        return [np.asarray(v, np.float64) for v in value]
    if isinstance(value, list) and all(isinstance(v, np.ndarray) for v in value):
        return [v.astype(np.float64) for v in value]
    raise AssertionError(f"{what} should be a list of numeric arrays.")


# --- Task 1: the piecewise-linear map ------------------------------------------------------------

def judge_piecewise(ev):
    x, y, logits = (ev.probes[k].astype(np.float64) for k in ("pwl_x", "pwl_y", "pwl_logits"))
    forward, log_det = reference.pwl_forward(x, logits)
    checks.expect_shape(ev.array("forward"), (32,), "pwl_forward(x, logits) for 32 points")
    checks.expect_close(ev.array("forward"), forward, "pwl_forward at fresh points and logits", atol=1e-4)
    checks.expect_close(ev.array("log_det"), log_det, "pwl_log_det at fresh points and logits", atol=1e-4)
    checks.expect_close(ev.array("inverse"), reference.pwl_inverse(y, logits),
                        "pwl_inverse at fresh points and logits", atol=1e-4)
    checks.expect_close(ev.array("round_trip"), x, "pwl_inverse(pwl_forward(x))", atol=1e-4)


# --- Task 2: spline parameters -------------------------------------------------------------------

def judge_spline_params(ev):
    raw = ev.probes["raw"]
    names = ("widths", "heights", "slopes")
    for name, expected in zip(names, reference.spline_params(raw, SPLINE_BINS, SPLINE_BOUND), strict=True):
        checks.expect_shape(ev.array(name), expected.shape, f"{name} for raw numbers of shape {raw.shape}")
        checks.expect_close(ev.array(name), expected, f"spline_params' {name} for fresh raw numbers "
                            f"({SPLINE_BINS} bins, bound {SPLINE_BOUND})", atol=1e-4, rtol=1e-4)
    for name, expected in zip(names, reference.spline_params(raw, SPLINE_BINS, SPLINE_BOUND, 0.05, 0.1),
                              strict=True):
        checks.expect_close(ev.array(f"{name}_minimum"), expected,
                            f"spline_params' {name} with min_width=0.05, min_slope=0.1", atol=1e-4, rtol=1e-4)


# --- Task 3: the spline coupling flow ------------------------------------------------------------

def _expect_network_weights(weights, dims, layers, bins, hidden, name):
    shapes = reference.network_shapes(dims, bins, hidden)
    checks.expect(len(weights) == 6 * layers,
                  f"{name}: expected {layers} networks of 3 Dense layers ({6 * layers} weight arrays), "
                  f"found {len(weights)} arrays.")
    for layer in range(layers):
        found = [tuple(np.shape(w)) for w in weights[6 * layer:6 * layer + 6]]
        checks.expect(found == shapes, f"{name}: network {layer + 1}'s weights should have shapes "
                      f"{shapes}, found {found}.")


def _drawn_weight(seed, network, index, shape):
    """The weight RANDOMIZE_CHECK gives array ``index`` of network ``network`` (the judge redraws it)."""
    return np.random.default_rng([seed, network, index]).normal(scale=0.5, size=shape)


# Weights drawn per run for each array j of each network i of the check flow, from the run's seed.
RANDOMIZE_CHECK = ("[n.set_weights([_np.random.default_rng([int(_P.seed[0]), i, j]).normal(scale=0.5, "
                   "size=w.shape) for j, w in enumerate(n.get_weights())]) "
                   "for i, n in enumerate(check_networks)] and None")


def judge_spline_coupling(ev):
    c = COUPLING_CHECK
    name = "spline_coupling_flow(2, 3, num_bins=5, hidden_units=8, bound=3.0)"
    initial = _weight_list(ev["initial"], "the untrained networks' outputs")
    for output in initial:
        checks.expect_shape(output, (len(ev.probes["points"]), 14), "an untrained network's output for "
                            "dims=2 and 5 bins")
        checks.expect_close(output, np.zeros_like(output), "an untrained network's output (its last "
                            "layer starts with zero kernel and bias)", atol=1e-6)
    weights = _weight_list(ev["weights"], f"the weights of {name}'s networks")
    _expect_network_weights(weights, c["dims"], c["layers"], c["bins"], c["hidden"], name)
    seed = int(ev.probes["seed"][0])
    given = [_drawn_weight(seed, i // 6, i % 6, w.shape) for i, w in enumerate(weights)]
    checks.expect(all(np.allclose(w, g, atol=1e-5) for w, g in zip(weights, given, strict=True)),
                  f"the networks {name} returns do not hold the weights the grader gave them: are they "
                  "the networks the couplings call?")
    flow = reference.spline_flow(given, c["dims"], c["layers"], c["bins"], c["bound"])
    points = ev.probes["points"].astype(np.float64)
    checks.expect_close(ev.array("log_prob"), flow.log_prob(points).numpy(),
                        "the flow's log_prob at fresh points (weights drawn for this run) vs the "
                        "reference flow with the same weights", atol=2e-3, rtol=1e-3)
    checks.expect_close(ev.array("inverse"), flow.bijector.inverse(points).numpy(),
                        "the flow's bijector.inverse at fresh points vs the reference", atol=2e-3, rtol=1e-3)


def judge_spline_moons(ev):
    layers, bins, hidden = (int(v) for v in ev.array("config"))
    checks.expect(1 <= layers <= 12 and 2 <= bins <= 32 and 4 <= hidden <= 512,
                  f"the spline flow's configuration (layers, bins, hidden) = {(layers, bins, hidden)} is "
                  "outside the lab's range.")
    weights = _weight_list(ev["weights"], "the trained spline flow's weights")
    _expect_network_weights(weights, 2, layers, bins, hidden, "the trained spline flow")
    flow = reference.on_data_scale(reference.spline_flow(weights, 2, layers, bins, reference.MOONS_BOUND),
                                   data.moons_train())
    points = ev.probes["moons_x"].astype(np.float64)
    theirs = ev.array("log_prob")
    checks.expect_shape(theirs, (len(points),), f"spline_flow.log_prob of {len(points)} points")
    checks.expect(np.all(np.isfinite(theirs)), "spline_flow.log_prob gives NaN or infinite values on "
                  "data-like points: did the training diverge?")
    ours = flow.log_prob(points).numpy()
    checks.expect(np.allclose(ours, theirs, atol=2e-3, rtol=1e-3),
                  "the trained spline flow could not be rebuilt from its networks' weights as the task's "
                  f"spline coupling flow (interval [-{reference.MOONS_BOUND}, {reference.MOONS_BOUND}]) on "
                  "standardised points: "
                  f"its log-densities differ by up to {np.abs(ours - theirs).max():.3g} nats.")
    fresh = data.two_moons(FRESH_MOONS, random_state=int(ev.probes["moons_seed"][0]))
    nll = float(-np.mean(flow.log_prob(fresh.astype(np.float64)).numpy()))
    ev.below(nll, SPLINE_MOONS_LIMIT, "the spline flow's NLL on fresh two-moons points (nats)")


# --- Tasks 4 and 5: spectral normalisation, the fixed-point inverse --------------------------------

def judge_spectral_norm(ev):
    for key in ("kernel_wide", "kernel_small", "kernel_tall"):
        kernel = ev.probes[key].astype(np.float64)
        out = ev.array(key)
        checks.expect_shape(out, kernel.shape, f"spectral_normalize of a {kernel.shape} kernel")
        checks.expect_close(out, reference.spectral_normalize(kernel, 0.8),
                            f"spectral_normalize(kernel, 0.8) for a fresh {kernel.shape} kernel with "
                            f"largest singular value {reference.largest_singular_value(kernel):.3f}",
                            atol=2e-4, rtol=2e-3)


def judge_fixed_point(ev):
    x, w = ev.probes["fp_x"].astype(np.float64), ev.probes["fp_w"].astype(np.float64)
    found = ev.array("inverse")
    checks.expect_shape(found, x.shape, "residual_inverse(x, g) for a fresh batch")
    checks.expect_close(found, reference.residual_inverse(x, w),
                        "residual_inverse(x, g) for fresh x and a fresh contraction g", atol=1e-4)
    checks.expect_close(ev.array("one_step"), x - reference.contraction(x, w),
                        "residual_inverse(x, g, iterations=1): one step z = x - g(x) from z = x", atol=1e-4)


# --- Tasks 6 and 7: Hutchinson's estimator, the residual log-det ----------------------------------

def judge_hutchinson(ev):
    diag, dense = ev.probes["diag"].astype(np.float64), ev.probes["dense"].astype(np.float64)
    exact_diag = ev.array("diag_one_probe")
    checks.expect_shape(exact_diag, (5,), "hutchinson_trace for a batch of 5")
    checks.expect_close(exact_diag, np.trace(diag, axis1=1, axis2=2),
                        "one Rademacher probe on diagonal matrices (exact for them)", atol=1e-4)
    sym = (dense + np.transpose(dense, (0, 2, 1))) / 2
    # The variance of one Rademacher estimate of tr(A): 2 * (sum of squared off-diagonal entries of
    # the symmetric part).
    variance = 2 * ((sym**2).sum((1, 2)) - (np.diagonal(sym, axis1=1, axis2=2) ** 2).sum(1))
    trace = np.trace(dense, axis1=1, axis2=2)
    copies = ev.array("dense_copies")
    checks.expect_shape(copies, (COPIES * 5,), f"hutchinson_trace for a batch of {COPIES * 5}")
    error = np.abs(copies.reshape(COPIES, 5).mean(0) - trace) / np.sqrt(variance / COPIES)
    checks.expect(np.all(error < 5), f"the mean of {COPIES} one-probe Hutchinson estimates of fresh "
                  f"matrices' traces is {error.max():.1f} standard errors off: the estimator is biased.")
    averaged = ev.array("dense_probes")
    error = np.abs(averaged - trace) / np.sqrt(variance / 50)
    checks.expect(np.all(error < 5), "hutchinson_trace(..., num_probes=50) is "
                  f"{error.max():.1f} standard errors off the traces: is it the mean over the probes?")
    singles = ev.array("dense_singles")
    checks.expect(np.std(singles, axis=0).min() > 1e-3,
                  "one-probe estimates with different seeds should differ (the probes are random).")


def judge_residual_log_det(ev):
    z = ev.probes["ld_z"].astype(np.float64)
    a, b = ev.probes["ld_a"].astype(np.float64), ev.probes["ld_b"].astype(np.float64)
    jac = reference.jacobians(z, a, b)
    exact = np.linalg.slogdet(np.eye(3) + jac)[1]
    checks.expect_close(ev.array("exact"), exact, "exact_log_det for a fresh contraction g", atol=1e-4)
    # g(z) = 0.9 tanh(z) elementwise has a diagonal Jacobian: Rademacher probes make every term of
    # the series exact, so the sum must match term by term (signs, 1/k, powers of J) to 1e-4.
    d = 0.9 / np.cosh(z) ** 2
    diagonal = sum((-1) ** (k + 1) / k * (d**k).sum(1) for k in range(1, 6))
    checks.expect_close(ev.array("series_diagonal"), diagonal, "series_log_det with 5 terms for "
                        "g(z) = 0.9 tanh(z) (a diagonal Jacobian: the estimate is exact)", atol=1e-4)
    many = ev.array("series_copies").reshape(COPIES, len(z)).mean(0)
    checks.expect_close(many, reference.series_with_exact_traces(jac, 4),
                        f"the mean of {COPIES} one-probe series_log_det estimates (4 terms) vs the "
                        "truncated series with exact traces", atol=0.08)
    singles = ev.array("series_singles")
    checks.expect(np.std(singles, axis=0).min() > 1e-3,
                  "one-probe series estimates with different seeds should differ (random probes).")
    long_series = ev.array("series_long").reshape(COPIES, len(z)).mean(0)
    checks.expect_close(long_series, exact, f"the mean of {COPIES} one-probe series_log_det estimates "
                        "with 30 terms vs the exact log-determinant", atol=0.1)


# --- Task 8: FFJORD's time-derivative network -----------------------------------------------------

def judge_ffjord_net(ev):
    weights = _weight_list(ev["weights"], "time_derivative_network(2, 8)'s weights")
    shapes = [tuple(np.shape(w)) for w in weights]
    expected = [(3, 8), (8,), (8, 8), (8,), (8, 2), (2,)]
    checks.expect(shapes == expected, f"time_derivative_network(2, 8) should hold Dense weights of shapes "
                  f"{expected}, found {shapes}.")
    x = ev.probes["ff_x"].astype(np.float64)
    for index, t in enumerate(ev.probes["ff_t"].astype(np.float64)):
        inputs = np.concatenate([x, np.full((len(x), 1), t)], axis=1)
        checks.expect_close(ev.array(f"f{index}"), reference.mlp_tanh(weights, inputs),
                            f"time_derivative(network, {t:.3f}, x) at fresh points vs the network on [x, t]",
                            atol=1e-4, rtol=1e-4)


FIXED_POINT_G = "lambda z: tf.tanh(tf.matmul(z, _P.fp_w))"
LOG_DET_G = "lambda z: 0.8 * tf.matmul(tf.tanh(tf.matmul(z, _P.ld_a)), _P.ld_b)"
DIAG_MATVEC = "lambda v: tf.linalg.matvec(_P.diag, v)"
DENSE_MATVEC = "lambda v: tf.linalg.matvec(_P.dense, v)"
# Many independent one-probe estimates come from one call on COPIES copies of a batch: fast, and
# independent of how a student loops over probes.
COPIES = 1000
TILED_DENSE_MATVEC = f"lambda v: tf.linalg.matvec(_np.tile(_P.dense, ({COPIES}, 1, 1)), v)"
TILED_Z = f"_np.tile(_P.ld_z, ({COPIES}, 1))"
FRESH_CHECK_FLOW = "spline_coupling_flow(2, 2, num_bins=5, hidden_units=8, bound=3.0)"

TASKS = [
    Task("piecewise_test", {"forward": "pwl_forward(_P.pwl_x, _P.pwl_logits)",
                            "log_det": "pwl_log_det(_P.pwl_x, _P.pwl_logits)",
                            "inverse": "pwl_inverse(_P.pwl_y, _P.pwl_logits)",
                            "round_trip": "pwl_inverse(pwl_forward(_P.pwl_x, _P.pwl_logits), _P.pwl_logits)"},
         judge_piecewise),
    Task("spline_params_test",
         {"widths": f"spline_params(_P.raw, {SPLINE_BINS}, {SPLINE_BOUND})[0]",
          "heights": f"spline_params(_P.raw, {SPLINE_BINS}, {SPLINE_BOUND})[1]",
          "slopes": f"spline_params(_P.raw, {SPLINE_BINS}, {SPLINE_BOUND})[2]",
          "widths_minimum": f"spline_params(_P.raw, {SPLINE_BINS}, {SPLINE_BOUND}, 0.05, 0.1)[0]",
          "heights_minimum": f"spline_params(_P.raw, {SPLINE_BINS}, {SPLINE_BOUND}, 0.05, 0.1)[1]",
          "slopes_minimum": f"spline_params(_P.raw, {SPLINE_BINS}, {SPLINE_BOUND}, 0.05, 0.1)[2]"},
         judge_spline_params),
    Task("spline_coupling_test",
         {"initial": f"[_np.asarray(n(_P.points[:, :1])) for n in {FRESH_CHECK_FLOW}[1]]",
          "randomize": RANDOMIZE_CHECK,
          "weights": "sum([_weights(n) for n in check_networks], [])",
          "log_prob": "check_flow.log_prob(_P.points)",
          "inverse": "check_flow.bijector.inverse(_P.points)"},
         judge_spline_coupling),
    Task("spline_moons_test", {"weights": "sum([_weights(n) for n in spline_networks], [])",
                               "config": "[SPLINE_LAYERS, SPLINE_BINS, SPLINE_HIDDEN]",
                               "log_prob": "spline_flow.log_prob(_P.moons_x)"},
         judge_spline_moons),
    Task("spectral_norm_test", {key: f"spectral_normalize(_P.{key}, 0.8)"
                                for key in ("kernel_wide", "kernel_small", "kernel_tall")},
         judge_spectral_norm),
    Task("fixed_point_test", {"inverse": f"residual_inverse(_P.fp_x, {FIXED_POINT_G})",
                              "one_step": f"residual_inverse(_P.fp_x, {FIXED_POINT_G}, iterations=1)"},
         judge_fixed_point),
    Task("hutchinson_test",
         {"diag_one_probe": f"hutchinson_trace({DIAG_MATVEC}, 4, 5, num_probes=1, seed=3)",
          "dense_copies": f"hutchinson_trace({TILED_DENSE_MATVEC}, 4, {5 * COPIES}, num_probes=1, seed=1)",
          "dense_probes": f"hutchinson_trace({DENSE_MATVEC}, 4, 5, num_probes=50, seed=2)",
          "dense_singles": f"[hutchinson_trace({DENSE_MATVEC}, 4, 5, 1, s) for s in range(8)]"},
         judge_hutchinson),
    Task("residual_log_det_test",
         {"exact": f"exact_log_det({LOG_DET_G}, _P.ld_z)",
          "series_diagonal": "series_log_det(lambda z: 0.9 * tf.tanh(z), _P.ld_z, terms=5, seed=0)",
          "series_copies": f"series_log_det({LOG_DET_G}, {TILED_Z}, terms=4, num_probes=1, seed=2)",
          "series_long": f"series_log_det({LOG_DET_G}, {TILED_Z}, terms=30, num_probes=1, seed=4)",
          "series_singles": f"[series_log_det({LOG_DET_G}, _P.ld_z, terms=3, num_probes=1, seed=s) "
                            "for s in range(6)]"},
         judge_residual_log_det),
    Task("ffjord_net_test", {"weights": "_weights(check_net)",
                             "f0": "time_derivative(check_net, float(_P.ff_t[0]), _P.ff_x)",
                             "f1": "time_derivative(check_net, float(_P.ff_t[1]), _P.ff_x)"},
         judge_ffjord_net),
]
