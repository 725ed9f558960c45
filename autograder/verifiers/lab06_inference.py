"""Trusted checks of lab 06 (flows for inference): judged outside the student's kernel.

Functions the student writes (the reverse-KL loss, the importance-sampling estimator and ESS, the
distillation loss) are called in the kernel on small Gaussians built from fresh probe arrays, and
their values and gradients are compared with closed forms computed here. Flows the student builds
or trains are rebuilt here in the reference architecture from their weights, and judged on fresh
draws with the reference target densities.
"""

import math

import numpy as np
from scipy.special import logsumexp

from flowlab import checks, targets
from flowlab.course.grading.verifier import Task
from flowlab.tfenv import tf, tfb, tfd  # at import, so the grading zygote loads TensorFlow once

LOG_2PI = math.log(2 * math.pi)
# What the evidence expressions call: TFP by import, so that a student's renamed aliases do not
# matter, and a Gaussian from probe arrays.
_TFP = '__import__("tensorflow_probability")'
_GAUSSIAN = _TFP + ".distributions.MultivariateNormalDiag({loc}, {scale})"

# Sample sizes for the Monte Carlo checks in the kernel, and their tolerances in standard errors.
MC_SAMPLES = 20000
MC_TOLERANCE = 6.0

# Task 2 (make_iaf) is checked on a small flow; the trained flows on the lab's architectures.
IAF_CHECK = {"dims": 3, "layers": 3, "hidden_units": (16, 16)}
MOONS_IAF = {"dims": 2, "layers": 8, "hidden_units": (64, 64)}
POSTERIOR_IAF = {"dims": 31, "layers": 2, "hidden_units": (64, 64)}

# Thresholds on the trained flows (grading budget). `flowlab audit` of the 8-layer moons IAF,
# reference at seeds 0-4 (2026-12-03, forward-KL and banana sections after the tasks): KL(q || p)
# at most 0.278 (closest wrong answer, ten steps: 1.589); |log Z error| at most 0.049; negative
# ELBO at most 70.5 (five steps: 807.2). With the log Z error as a median of parts (2026-12-03):
# at most 0.064, margin 0.236.
MOONS_KL_LIMIT = 0.6
MOONS_LOG_Z_ERROR_LIMIT = 0.3
MOONS_JUDGE_SAMPLES = 20000
# The log Z error is the median over this many equal parts of the judge's samples (see
# median_log_z): one sample alone moved a single 20000-sample estimate by 1.09 nats.
MOONS_LOG_Z_PARTS = 10
POSTERIOR_NEG_ELBO_LIMIT = 90.0
POSTERIOR_JUDGE_SAMPLES = 4000


def probes(rng):
    def positive(size, low, high):
        return rng.uniform(low, high, size).astype(np.float32)

    return {
        # Gaussians for the losses: q and p far enough apart that KL(q||p) and KL(p||q) differ.
        "q_loc": rng.uniform(-1.5, 1.5, 2).astype(np.float32),
        "q_scale": positive(2, 0.4, 0.8),
        "p_loc": rng.uniform(-1.5, 1.5, 2).astype(np.float32),
        "p_scale": positive(2, 1.2, 2.0),
        "log_c": np.float32(rng.uniform(2.0, 9.0)),
        # Log-weights where exp over- or underflows, and a spread-out set where it does not.
        "lw_high": (700.0 + 4.0 * rng.standard_normal(500)).astype(np.float64),
        "lw_low": (-800.0 + 3.0 * rng.standard_normal(500)).astype(np.float64),
        "lw_wide": (2.5 * rng.standard_normal(2000)).astype(np.float64),
        # Points for the IAF's forward and inverse directions. An untrained IAF's log-scales grow
        # with its input from layer to layer, so a Gaussian's far tail can overflow float32 to
        # nan (seen once in CI at 1.5 standard deviations); bounded points stay where it is tame.
        "z3": rng.uniform(-2.0, 2.0, (16, 3)).astype(np.float32),
        "x3": rng.uniform(-1.5, 1.5, (16, 3)).astype(np.float32),
        # Base draws with which the judge samples the trained flows (never sent to the kernel).
        "moons_z": rng.standard_normal((MOONS_JUDGE_SAMPLES, 2)).astype(np.float32),
        "posterior_z": rng.standard_normal((POSTERIOR_JUDGE_SAMPLES, 31)).astype(np.float32),
    }


# --- Closed forms --------------------------------------------------------------------------------

def gaussian_log_prob(x, loc, scale):
    x, loc, scale = (np.asarray(a, np.float64) for a in (x, loc, scale))
    return -0.5 * np.sum(((x - loc) / scale) ** 2, -1) - np.sum(np.log(scale)) - 0.5 * len(loc) * LOG_2PI


def gaussian_kl(loc_q, scale_q, loc_p, scale_p):
    """KL(N(loc_q, diag scale_q²) || N(loc_p, diag scale_p²))."""
    loc_q, scale_q, loc_p, scale_p = (np.asarray(a, np.float64) for a in (loc_q, scale_q, loc_p, scale_p))
    return float(np.sum(np.log(scale_p / scale_q)
                        + (scale_q**2 + (loc_q - loc_p) ** 2) / (2 * scale_p**2) - 0.5))


def monte_carlo_spread(loc_q, scale_q, loc_p, scale_p, samples=200000, seed=1):
    """Standard deviation of log q(x) - log p(x) under q: the Monte Carlo noise of one sample."""
    rng = np.random.default_rng(seed)
    x = loc_q + scale_q * rng.standard_normal((samples, len(loc_q)))
    return float(np.std(gaussian_log_prob(x, loc_q, scale_q) - gaussian_log_prob(x, loc_p, scale_p)))


def reference_log_z(log_weights):
    log_weights = np.asarray(log_weights, np.float64)
    n = len(log_weights)
    normalised = np.exp(log_weights - logsumexp(log_weights))
    return logsumexp(log_weights) - math.log(n), math.sqrt((n * np.sum(normalised**2) - 1.0) / (n - 1))


def median_log_z(log_weights, parts):
    """The median of the log Z estimates of ``parts`` equal parts of ``log_weights``.

    A reverse-KL fit can be far thinner than the target somewhere; a rare sample there gets a huge
    weight and swings one estimate by a nat or more (an audit saw 1.09 from a flow with KL(q || p)
    0.25, the reference's worst being 0.05). It spoils only its own part, while a proposal that
    is wrong everywhere moves every part, so the median judges the proposal, not the draw.
    """
    return float(np.median([reference_log_z(part)[0]
                            for part in np.array_split(np.asarray(log_weights), parts)]))


def reference_ess(log_weights):
    log_weights = np.asarray(log_weights, np.float64)
    return float(np.exp(2 * logsumexp(log_weights) - logsumexp(2 * log_weights)))


# --- Rebuilding IAFs from weights ----------------------------------------------------------------

def _reference_iaf(dims, layers, hidden_units):
    reverse = list(range(dims))[::-1]
    bijectors, layers_with_weights = [], []
    for index in range(layers):
        if index:
            bijectors.append(tfb.Permute(permutation=reverse))
        network = tfb.AutoregressiveNetwork(params=2, event_shape=[dims],
                                            hidden_units=list(hidden_units), activation="relu")
        network(tf.zeros([1, dims]))
        layer = tfb.Invert(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=network))
        bijectors.append(layer)
        layers_with_weights.append(layer)
    base = tfd.MultivariateNormalDiag(loc=tf.zeros(dims))
    return tfd.TransformedDistribution(base, tfb.Chain(bijectors)), layers_with_weights


def rebuild_iaf(per_bijector_weights, dims, layers, hidden_units, name):
    """The reference IAF with the student's weights: one non-empty weight list per IAF layer, in
    the chain's order (Permute layers have none)."""
    if not isinstance(per_bijector_weights, list):
        raise AssertionError(f"could not read the weights of {name}'s layers.")
    found = [w if isinstance(w, list) else [w] for w in per_bijector_weights]
    found = [[np.asarray(a) for a in w] for w in found if len(w) and np.asarray(w[0]).size]
    flow, reference_layers = _reference_iaf(dims, layers, hidden_units)
    checks.expect(len(found) == layers,
                  f"{name} should have {layers} IAF layers with weights, but {len(found)} of its "
                  "bijectors have weights.")
    for index, (layer, weights) in enumerate(zip(reference_layers, found, strict=True)):
        # The same module structure lists its variables in the same order as the student's.
        variables = layer.variables
        expected = [tuple(v.shape) for v in variables]
        shapes = [tuple(a.shape) for a in weights]
        checks.expect(shapes == expected,
                      f"IAF layer {index + 1} of {name} has weights of shapes {shapes}; an "
                      f"AutoregressiveNetwork(params=2, hidden_units={list(hidden_units)}) on "
                      f"{dims} dimensions has {expected}.")
        for variable, value in zip(variables, weights, strict=True):
            variable.assign(value.astype(np.float32))
    return flow


def sample_with_log_prob(flow, z):
    """Reparameterised draws x = f(z) and their exact log density, from base draws ``z``."""
    x = flow.bijector.forward(z)
    log_q = flow.distribution.log_prob(z) - flow.bijector.forward_log_det_jacobian(z, event_ndims=1)
    return np.asarray(x, np.float64), np.asarray(log_q, np.float64)


# --- Judges --------------------------------------------------------------------------------------

def _check_loss(ev, name, exact_key, value_key, grad_key, exact_value):
    """Shared by the two losses: exact on a target proportional to q, Monte Carlo on a Gaussian
    target, and the pathwise gradient in q's mean."""
    q_loc, q_scale = ev.probes["q_loc"], ev.probes["q_scale"]
    p_loc, p_scale = ev.probes["p_loc"], ev.probes["p_scale"]
    exact = ev.array(exact_key)
    checks.expect(exact.size == 1, f"{name} should return one number (a scalar), got shape {exact.shape}.")
    checks.expect_close(exact.reshape(()), exact_value,
                        f"{name} when log q − log p̃ is the same constant at every sample (so any "
                        "mismatch means log q and the samples come from different draws, or the "
                        "average is not a mean)", atol=2e-3, rtol=0)
    value = ev.array(value_key)
    checks.expect(value.size == 1, f"{name} should return one number (a scalar), got shape {value.shape}.")
    expected = gaussian_kl(q_loc, q_scale, p_loc, p_scale)
    spread = monte_carlo_spread(q_loc, q_scale, p_loc, p_scale)
    tolerance = MC_TOLERANCE * spread / math.sqrt(MC_SAMPLES) + 1e-3
    backwards = gaussian_kl(p_loc, p_scale, q_loc, q_scale)
    hint = f" (KL(p || q) would be {backwards:.3f}: the forward KL, from the wrong samples)"
    checks.expect_close(value.reshape(()), expected,
                        f"{name} for Gaussians q and p, which should estimate KL(q || p) = "
                        f"{expected:.3f}{hint}", atol=tolerance, rtol=0)
    gradient = ev.array(grad_key).reshape(-1)
    expected_gradient = (q_loc.astype(np.float64) - p_loc) / p_scale.astype(np.float64) ** 2
    gradient_tolerance = MC_TOLERANCE * np.max(q_scale / p_scale**2) / math.sqrt(MC_SAMPLES) + 1e-3
    checks.expect_close(gradient, expected_gradient,
                        f"the gradient of {name} in q's mean (it must flow through the samples "
                        "into the target's log density: no stop_gradient, reparameterised draws)",
                        atol=gradient_tolerance, rtol=0)


def judge_reverse_kl(ev):
    _check_loss(ev, "reverse_kl", "exact", "value", "gradient", -float(ev.probes["log_c"]))


def judge_distillation(ev):
    _check_loss(ev, "distillation_loss", "exact", "value", "gradient", 0.0)


def judge_make_iaf(ev):
    event_shape = ev.array("build")
    checks.expect(event_shape.tolist() == [IAF_CHECK["dims"]],
                  f"make_iaf(3, ...) should have event shape [3], has {event_shape.tolist()}.")
    flow = rebuild_iaf(ev["weights"], name="make_iaf(3, layers=3, hidden_units=(16, 16))", **IAF_CHECK)
    layers = [w for w in ev["weights"] if isinstance(w, list) and len(w)]
    first_kernels = [np.asarray(w[0]) for w in layers]
    checks.expect(all(not np.array_equal(first_kernels[0], k) for k in first_kernels[1:]),
                  "make_iaf's layers have identical weights: each IAF layer needs a network of "
                  "its own, built inside the loop.")
    z, x = ev.probes["z3"], ev.probes["x3"]
    expect_close_where_finite(ev.array("forward"), np.asarray(flow.bijector.forward(z)),
                              "the flow's forward (sampling) map: an IAF layer is tfb.Invert of a "
                              "MaskedAutoregressiveFlow, with a reversing Permute between layers")
    expect_close_where_finite(ev.array("log_prob"), np.asarray(flow.log_prob(x)),
                              "the flow's log_prob at new points")


def expect_close_where_finite(actual, expected, name, least_finite=0.75):
    """Compare where the rebuilt reference is finite: with the student's own untrained weights a
    rare probe can still overflow, and then the student's value must overflow there too."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    checks.expect(actual.shape == expected.shape,
                  f"{name} should have shape {expected.shape}, but has {actual.shape}.")
    finite = np.isfinite(expected)
    checks.expect(finite.mean() >= least_finite,
                  f"{name} overflows at {int((~finite).sum())} of {finite.size} probe values, "
                  "even rebuilt from your weights by the reference: are the networks' weights "
                  "far larger than Keras's default initialisation?")
    checks.expect(np.array_equal(np.isfinite(actual), finite),
                  f"{name} is not finite where it should be: {int((~np.isfinite(actual)).sum())} "
                  f"non-finite values, expected {int((~finite).sum())}.")
    # Where both overflow to an infinity it must be the same one; a nan on either side says only
    # that the computation overflowed, which depends on the order of its operations.
    both_infinite = np.isinf(actual) & np.isinf(expected)
    flipped = int((actual[both_infinite] != expected[both_infinite]).sum())
    checks.expect(flipped == 0, f"{name} overflows to the opposite infinity at {flipped} probe "
                  "value(s): a sign is wrong somewhere.")
    checks.expect_close(actual[finite], expected[finite], name, atol=2e-3, rtol=2e-3)


def judge_moons_fit(ev):
    flow = rebuild_iaf(ev["weights"], name="moons_flow", **MOONS_IAF)
    x, log_q = sample_with_log_prob(flow, ev.probes["moons_z"])
    log_p = targets.moons_log_prob(x)
    checks.expect(np.all(np.isfinite(log_q)), "moons_flow's samples have non-finite densities.")
    ev.below(float(np.mean(log_q - log_p)), MOONS_KL_LIMIT, "KL(q || p) of moons_flow, nats")
    log_z = median_log_z(log_p + targets.MOONS_LOG_Z - log_q, MOONS_LOG_Z_PARTS)
    ev.below(abs(log_z - targets.MOONS_LOG_Z), MOONS_LOG_Z_ERROR_LIMIT,
             f"|log Z estimate − log Z| with moons_flow as proposal (median of {MOONS_LOG_Z_PARTS} parts)")


def judge_posterior_fit(ev):
    flow = rebuild_iaf(ev["weights"], name="posterior_flow", **POSTERIOR_IAF)
    x_train, y_train, _, _ = targets.breast_cancer()
    log_joint = targets.logistic_log_joint(x_train, y_train)
    x, log_q = sample_with_log_prob(flow, ev.probes["posterior_z"])
    negative_elbo = float(np.mean(log_q - np.asarray(log_joint(x.astype(np.float32)), np.float64)))
    ev.below(negative_elbo, POSTERIOR_NEG_ELBO_LIMIT, "negative ELBO of posterior_flow, nats")


def judge_importance(ev):
    for which in ("high", "low", "wide"):
        log_weights = ev.probes[f"lw_{which}"]
        log_z, standard_error = reference_log_z(log_weights)
        found = ev.array(f"log_z_{which}").reshape(-1)
        checks.expect(found.size == 2, "log_z_estimate should return two numbers, (log_z, "
                      f"standard_error); it returned {found.size}.")
        checks.expect_close(found[0], log_z, f"log_z_estimate(...)[0] for log-weights around "
                            f"{np.mean(log_weights):.0f} (use log-sum-exp: exp overflows or "
                            "underflows there)", atol=1e-4, rtol=0)
        checks.expect_close(found[1], standard_error, "the standard error of log Z",
                            atol=1e-6, rtol=0.02)
        ess = ev.array(f"ess_{which}").reshape(-1)
        checks.expect(ess.size == 1, "effective_sample_size should return one number.")
        checks.expect_close(ess[0], reference_ess(log_weights),
                            f"effective_sample_size for {len(log_weights)} log-weights around "
                            f"{np.mean(log_weights):.0f} (a number of samples, not a fraction)",
                            atol=1e-6, rtol=1e-4)


def _loss_items(call):
    """Evidence for a loss ``call.format(q=..., target=..., n=...)``."""
    q = _GAUSSIAN.format(loc="_P.q_loc", scale="_P.q_scale")
    q_at = _GAUSSIAN.format(loc="loc", scale="_P.q_scale")
    p = _GAUSSIAN.format(loc="_P.p_loc", scale="_P.p_scale")
    return {
        "exact": call.format(q=q, target=call.exact_target(q), n=7),
        "value": call.format(q=q, target=call.target(p), n=MC_SAMPLES),
        "gradient": (f"{_TFP}.math.value_and_gradient(lambda loc: "
                     + call.format(q=q_at, target=call.target(p), n=MC_SAMPLES)
                     + ', __import__("tensorflow").constant(_P.q_loc))[1]'),
    }


class _ReverseKLCall(str):
    def target(self, p):
        return f"(lambda x: {p}.log_prob(x))"

    def exact_target(self, q):
        return f"(lambda x: {q}.log_prob(x) + _P.log_c)"


class _DistillationCall(str):
    def target(self, p):
        return p

    def exact_target(self, q):
        return q


_IAF_NAME = "_lab06_iaf_check"
_IAF_BUILD = (f"({_IAF_NAME} := make_iaf({IAF_CHECK['dims']}, layers={IAF_CHECK['layers']}, "
              f"hidden_units={IAF_CHECK['hidden_units']})).event_shape.as_list()")


def _per_bijector_weights(flow: str) -> str:
    return f"[_weights(b) for b in {flow}.bijector.bijectors]"


TASKS = [
    Task("reverse_kl_test", _loss_items(_ReverseKLCall("reverse_kl({q}, {target}, {n})")),
         judge_reverse_kl),
    Task("make_iaf_test", {"build": _IAF_BUILD,
                           "forward": f"{_IAF_NAME}.bijector.forward(_P.z3)",
                           "weights": _per_bijector_weights(_IAF_NAME),
                           "log_prob": f"{_IAF_NAME}.log_prob(_P.x3)"},
         judge_make_iaf),
    Task("moons_fit_test", {"weights": _per_bijector_weights("moons_flow")}, judge_moons_fit),
    Task("importance_test", {
        **{f"log_z_{w}": f"[float(v) for v in log_z_estimate(_P.lw_{w})]"
           for w in ("high", "low", "wide")},
        **{f"ess_{w}": f"float(effective_sample_size(_P.lw_{w}))" for w in ("high", "low", "wide")},
    }, judge_importance),
    Task("posterior_fit_test", {"weights": _per_bijector_weights("posterior_flow")},
         judge_posterior_fit),
    Task("distillation_loss_test",
         _loss_items(_DistillationCall("distillation_loss({q}, {target}, {n})")),
         judge_distillation),
]
