"""Trusted checks of lab 05 (beyond affine layers): judged outside the student's kernel on fresh
probes. The reference implementations of the graded tasks live here only."""

import numpy as np

from flowlab import checks
from flowlab.course.grading.verifier import Task

PWL_BINS = 5
SPLINE_BINS, SPLINE_BOUND = 7, 2.5
COUPLING_CHECK = {"dims": 2, "layers": 3, "bins": 5, "hidden": 8, "bound": 3.0}
MOONS_BOUND = 4.0
# The trained spline flow's held-out NLL (nats), recomputed here on fresh moons. The grading budget
# trains it briefly; the reference's worst over seeds 0-4 and the margin are in the audit's table.
SPLINE_MOONS_LIMIT = 0.80


def _spectrum(rng, shape, top):
    """A matrix of ``shape`` whose singular values fall from ``top`` to ``top / 4``, well separated
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
    return {
        "pwl_x": x.astype(np.float32),
        "pwl_y": rng.uniform(0.001, 0.999, size=32).astype(np.float32),
        "pwl_logits": (1.5 * rng.standard_normal((32, PWL_BINS))).astype(np.float32),
        "raw": (4.0 * rng.standard_normal((6, 3 * SPLINE_BINS - 1))).astype(np.float32),
        "points": (np.array([0.5, 0.25]) + 1.2 * rng.standard_normal((64, 2))).astype(np.float32),
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


# --- reference implementations ------------------------------------------------------------------

def pwl_reference(x, logits):
    """(y, log-derivative) of the K-bin piecewise-linear map with softmax heights."""
    x, logits = np.asarray(x, np.float64), np.asarray(logits, np.float64)
    heights = np.exp(logits - logits.max(-1, keepdims=True))
    heights /= heights.sum(-1, keepdims=True)
    bins = heights.shape[-1]
    k = np.clip(np.floor(x * bins).astype(int), 0, bins - 1)
    below = np.cumsum(heights, -1) - heights
    rows = np.arange(len(x))
    y = below[rows, k] + (x * bins - k) * heights[rows, k]
    return y, np.log(bins * heights[rows, k])


def pwl_inverse_reference(y, logits):
    """Bisection on the monotone forward map, independent of how the bins are found."""
    low, high = np.zeros_like(y, np.float64), np.ones_like(y, np.float64)
    for _ in range(60):
        middle = (low + high) / 2
        above = pwl_reference(middle, logits)[0] > y
        high, low = np.where(above, middle, high), np.where(above, low, middle)
    return (low + high) / 2


def _softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def spline_params_reference(raw, bins, bound, min_width=1e-2, min_slope=1e-2):
    raw = np.asarray(raw, np.float64)
    spare = 2 * bound - bins * min_width
    return (min_width + spare * _softmax(raw[..., :bins]),
            min_width + spare * _softmax(raw[..., bins:2 * bins]),
            min_slope + np.logaddexp(0.0, raw[..., 2 * bins:]))


def _tfp():
    import tensorflow_probability as tfp

    from flowlab.tfenv import tf  # TensorFlow, quietly

    return tf, tfp.distributions, tfp.bijectors


def spline_flow_reference(weights, dims, layers, bins, hidden, bound):
    """The reference spline coupling flow with the given network weights (6 arrays per layer)."""
    tf, tfd, tfb = _tfp()
    masked = dims // 2
    per_layer = [weights[6 * i:6 * i + 6] for i in range(layers)]
    bijectors = []
    for layer, (w1, b1, w2, b2, w3, b3) in enumerate(per_layer):
        consts = [tf.constant(np.asarray(a, np.float64)) for a in (w1, b1, w2, b2, w3, b3)]

        def bijector_fn(x1, output_units, c=consts):
            h = tf.nn.relu(tf.matmul(x1, c[0]) + c[1])
            h = tf.nn.relu(tf.matmul(h, c[2]) + c[3])
            raw = tf.reshape(tf.matmul(h, c[4]) + c[5], [-1, output_units, 3 * bins - 1])
            return tfb.RationalQuadraticSpline(*_tf_spline_params(tf, raw, bins, bound),
                                               range_min=-bound)

        if layer > 0:
            bijectors.append(tfb.Permute(list(range(dims))[::-1]))
        bijectors.append(tfb.RealNVP(num_masked=masked, bijector_fn=bijector_fn))
    base = tfd.MultivariateNormalDiag(loc=tf.zeros(dims, tf.float64))
    return tfd.TransformedDistribution(base, tfb.Chain(bijectors[::-1]))


def _tf_spline_params(tf, raw, bins, bound, min_width=1e-2, min_slope=1e-2):
    spare = 2 * bound - bins * min_width
    return (min_width + spare * tf.nn.softmax(raw[..., :bins], -1),
            min_width + spare * tf.nn.softmax(raw[..., bins:2 * bins], -1),
            min_slope + tf.nn.softplus(raw[..., 2 * bins:]))


def largest_singular_value(kernel):
    return float(np.linalg.svd(np.asarray(kernel, np.float64), compute_uv=False)[0])


def fixed_point_g(z, w):
    return np.tanh(z @ w)


def log_det_g_jacobian(z, a, b):
    """Jacobians of g(z) = 0.8 tanh(z A) B for each row z: J[i, k] = d g_i / d z_k."""
    sech2 = 1.0 - np.tanh(z @ a) ** 2                       # [n, h]
    return 0.8 * np.einsum("kj,nj,ji->nik", a, sech2, b)


def mlp_tanh(weights, inputs):
    w1, b1, w2, b2, w3, b3 = (np.asarray(w, np.float64) for w in weights)
    h = np.tanh(inputs @ w1 + b1)
    return np.tanh(h @ w2 + b2) @ w3 + b3


# --- judges -------------------------------------------------------------------------------------

def judge_piecewise(ev):
    x, y, logits = (ev.probes[k].astype(np.float64) for k in ("pwl_x", "pwl_y", "pwl_logits"))
    forward, log_det = pwl_reference(x, logits)
    checks.expect_shape(ev.array("forward"), (32,), "pwl_forward(x, logits) for 32 points")
    checks.expect_close(ev.array("forward"), forward, "pwl_forward at fresh points and logits", atol=1e-4)
    checks.expect_close(ev.array("log_det"), log_det, "pwl_log_det at fresh points and logits", atol=1e-4)
    checks.expect_close(ev.array("inverse"), pwl_inverse_reference(y, logits),
                        "pwl_inverse at fresh points and logits", atol=1e-4)
    checks.expect_close(ev.array("round_trip"), x, "pwl_inverse(pwl_forward(x))", atol=1e-4)


def judge_spline_params(ev):
    raw = ev.probes["raw"]
    names = ("widths", "heights", "slopes")
    for name, expected in zip(names, spline_params_reference(raw, SPLINE_BINS, SPLINE_BOUND), strict=True):
        checks.expect_shape(ev.array(name), expected.shape, f"{name} for raw numbers of shape {raw.shape}")
        checks.expect_close(ev.array(name), expected, f"spline_params' {name} for fresh raw numbers "
                            f"({SPLINE_BINS} bins, bound {SPLINE_BOUND})", atol=1e-4, rtol=1e-4)
    for name, expected in zip(names, spline_params_reference(raw, SPLINE_BINS, SPLINE_BOUND, 0.05, 0.1),
                              strict=True):
        checks.expect_close(ev.array(f"{name}_minimum"), expected,
                            f"spline_params' {name} with min_width=0.05, min_slope=0.1", atol=1e-4, rtol=1e-4)


def _expect_network_weights(weights, dims, layers, bins, hidden, name):
    masked = dims // 2
    shapes = [(masked, hidden), (hidden,), (hidden, hidden), (hidden,),
              (hidden, (dims - masked) * (3 * bins - 1)), ((dims - masked) * (3 * bins - 1),)]
    checks.expect(len(weights) == 6 * layers,
                  f"{name}: expected {layers} networks of 3 Dense layers ({6 * layers} weight arrays), "
                  f"found {len(weights)} arrays.")
    found = [tuple(np.shape(w)) for w in weights[:6]]
    checks.expect(found == shapes, f"{name}: a network's weights should have shapes {shapes}, found {found}.")


def judge_spline_coupling(ev):
    c = COUPLING_CHECK
    weights = ev["weights"]
    _expect_network_weights(weights, c["dims"], c["layers"], c["bins"], c["hidden"],
                            "spline_coupling_flow(2, 3, num_bins=5, hidden_units=8)")
    reference = spline_flow_reference(weights, c["dims"], c["layers"], c["bins"], c["hidden"], c["bound"])
    points = ev.probes["points"].astype(np.float64)
    checks.expect_close(ev.array("log_prob"), reference.log_prob(points).numpy(),
                        "the flow's log_prob at fresh points (random weights) vs the reference flow "
                        "with the same weights", atol=2e-3, rtol=1e-3)
    checks.expect_close(ev.array("inverse"), reference.bijector.inverse(points).numpy(),
                        "the flow's bijector.inverse at fresh points vs the reference", atol=2e-3, rtol=1e-3)


def judge_spline_moons(ev):
    layers, bins, hidden = (int(v) for v in ev.array("config"))
    checks.expect(1 <= layers <= 12 and 2 <= bins <= 32 and 4 <= hidden <= 512,
                  f"the spline flow's configuration (layers, bins, hidden) = {(layers, bins, hidden)} is "
                  "outside the lab's range.")
    weights = ev["weights"]
    _expect_network_weights(weights, 2, layers, bins, hidden, "the trained spline flow")
    flow = spline_flow_reference(weights, 2, layers, bins, hidden, MOONS_BOUND)
    fresh = _fresh_moons(int(ev.probes["moons_seed"][0]))
    nll = float(-np.mean(flow.log_prob(fresh).numpy()))
    ev.below(nll, SPLINE_MOONS_LIMIT, "the spline flow's NLL on fresh two-moons points (nats)")


def _fresh_moons(seed):
    from sklearn.datasets import make_moons

    return make_moons(n_samples=5000, noise=0.05, random_state=seed)[0]


def judge_spectral_norm(ev):
    for key in ("kernel_wide", "kernel_small", "kernel_tall"):
        kernel = ev.probes[key].astype(np.float64)
        out = ev.array(key)
        checks.expect_shape(out, kernel.shape, f"spectral_normalize of a {kernel.shape} kernel")
        sigma = largest_singular_value(kernel)
        expected = kernel * min(1.0, 0.8 / sigma)
        checks.expect_close(out, expected, f"spectral_normalize(kernel, 0.8) for a fresh {kernel.shape} "
                            f"kernel with largest singular value {sigma:.3f}", atol=2e-4, rtol=2e-3)


def judge_fixed_point(ev):
    x, w = ev.probes["fp_x"].astype(np.float64), ev.probes["fp_w"].astype(np.float64)
    z = x.copy()
    for _ in range(300):
        z = x - fixed_point_g(z, w)
    found = ev.array("inverse")
    checks.expect_shape(found, x.shape, "residual_inverse(x, g) for a fresh batch")
    checks.expect_close(found, z, "residual_inverse(x, g) for fresh x and a fresh contraction g", atol=1e-4)
    one_step = ev.array("one_step")
    checks.expect_close(one_step, x - fixed_point_g(x, w),
                        "residual_inverse(x, g, iterations=1): one step z = x - g(x) from z = x", atol=1e-4)


def judge_hutchinson(ev):
    diag, dense = ev.probes["diag"].astype(np.float64), ev.probes["dense"].astype(np.float64)
    exact_diag = ev.array("diag_one_probe")
    checks.expect_shape(exact_diag, (5,), "hutchinson_trace for a batch of 5")
    checks.expect_close(exact_diag, np.trace(diag, axis1=1, axis2=2),
                        "one Rademacher probe on diagonal matrices (exact for them)", atol=1e-4)
    sym = (dense + np.transpose(dense, (0, 2, 1))) / 2
    variance = 2 * ((sym**2).sum((1, 2)) - (np.diagonal(sym, axis1=1, axis2=2) ** 2).sum(1))
    trace = np.trace(dense, axis1=1, axis2=2)
    # One probe for each of COPIES copies of the batch: COPIES independent estimates per matrix.
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
    jac = log_det_g_jacobian(z, a, b)
    exact = np.linalg.slogdet(np.eye(3) + jac)[1]
    checks.expect_close(ev.array("exact"), exact, "exact_log_det for a fresh contraction g", atol=1e-4)
    # The truncated series with exact traces: what the estimator averages to.
    powers, series = np.eye(3)[None], np.zeros(len(z))
    for k in range(1, 5):
        powers = powers @ jac
        series += (-1) ** (k + 1) / k * np.trace(powers, axis1=1, axis2=2)
    # g(z) = 0.9 tanh(z) elementwise has a diagonal Jacobian: Rademacher probes make every term of
    # the series exact, so the sum must match term by term (signs, 1/k, powers of J) to 1e-4.
    d = 0.9 / np.cosh(z) ** 2
    diagonal = sum((-1) ** (k + 1) / k * (d**k).sum(1) for k in range(1, 6))
    checks.expect_close(ev.array("series_diagonal"), diagonal, "series_log_det with 5 terms for "
                        "g(z) = 0.9 tanh(z) (a diagonal Jacobian: the estimate is exact)", atol=1e-4)
    many = ev.array("series_copies").reshape(COPIES, len(z)).mean(0)
    checks.expect_close(many, series, f"the mean of {COPIES} one-probe series_log_det estimates (4 "
                        "terms) vs the truncated series with exact traces", atol=0.08)
    singles = ev.array("series_singles")
    checks.expect(np.std(singles, axis=0).min() > 1e-3,
                  "one-probe series estimates with different seeds should differ (random probes).")
    long_series = ev.array("series_long").reshape(COPIES, len(z)).mean(0)
    checks.expect_close(long_series, exact, f"the mean of {COPIES} one-probe series_log_det estimates "
                        "with 30 terms vs the exact log-determinant", atol=0.1)


def judge_ffjord_net(ev):
    weights = ev["weights"]
    shapes = [tuple(np.shape(w)) for w in weights]
    expected = [(3, 8), (8,), (8, 8), (8,), (8, 2), (2,)]
    checks.expect(shapes == expected, f"time_derivative_network(2, 8) should hold Dense weights of shapes "
                  f"{expected}, found {shapes}.")
    x = ev.probes["ff_x"].astype(np.float64)
    for index, t in enumerate(ev.probes["ff_t"].astype(np.float64)):
        inputs = np.concatenate([x, np.full((len(x), 1), t)], axis=1)
        checks.expect_close(ev.array(f"f{index}"), mlp_tanh(weights, inputs),
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
    Task("spline_coupling_test", {"weights": "sum([_weights(n) for n in check_networks], [])",
                                  "log_prob": "check_flow.log_prob(_P.points)",
                                  "inverse": "check_flow.bijector.inverse(_P.points)"},
         judge_spline_coupling),
    Task("spline_moons_test", {"weights": "sum([_weights(n) for n in spline_networks], [])",
                               "config": "[SPLINE_LAYERS, SPLINE_BINS, SPLINE_HIDDEN]"},
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
