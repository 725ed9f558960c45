"""The reference answers of lab 05 (beyond affine layers), kept out of the student-importable
``flowlab`` package.

NumPy versions of the graded maps (the piecewise-linear map, the spline parameters, the contraction
and Jacobians the residual tasks are probed with, the time-derivative network), which the lab 05
verifier compares students' values with, and the spline coupling flow rebuilt with given network
weights as TFP computes it (TensorFlow is imported only when that is called).
"""

import numpy as np

# The spline flow's default interval [-bound, bound] in the lab; the verifier rebuilds trained flows
# with it.
MOONS_BOUND = 4.0
MIN_WIDTH = 1e-2
MIN_SLOPE = 1e-2


# --- Task 1: the piecewise-linear map --------------------------------------------------------------

def _softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def pwl_forward(x, logits):
    """``(y, log-derivative)`` of the K-bin piecewise-linear map with softmax heights."""
    x, logits = np.asarray(x, np.float64), np.asarray(logits, np.float64)
    heights = _softmax(logits)
    bins = heights.shape[-1]
    k = np.clip(np.floor(x * bins).astype(int), 0, bins - 1)
    below = np.cumsum(heights, -1) - heights
    rows = np.arange(len(x))
    y = below[rows, k] + (x * bins - k) * heights[rows, k]
    return y, np.log(bins * heights[rows, k])


def pwl_inverse(y, logits):
    """Bisection on the monotone forward map: independent of how an answer finds the bins."""
    low, high = np.zeros_like(y, np.float64), np.ones_like(y, np.float64)
    for _ in range(60):
        middle = (low + high) / 2
        above = pwl_forward(middle, logits)[0] > y
        high, low = np.where(above, middle, high), np.where(above, low, middle)
    return (low + high) / 2


# --- Task 2: spline parameters ---------------------------------------------------------------------

def spline_params(raw, bins, bound, min_width=MIN_WIDTH, min_slope=MIN_SLOPE):
    """``(widths, heights, slopes)`` from raw network outputs ``[..., 3K - 1]``."""
    raw = np.asarray(raw, np.float64)
    spare = 2 * bound - bins * min_width
    return (min_width + spare * _softmax(raw[..., :bins]),
            min_width + spare * _softmax(raw[..., bins:2 * bins]),
            min_slope + np.logaddexp(0.0, raw[..., 2 * bins:]))


# --- Task 3: the spline coupling flow --------------------------------------------------------------

def network_shapes(dims: int, bins: int, hidden: int) -> list[tuple]:
    """Weight shapes of one coupling's network: Dense(hidden) x 2, then Dense((D - d)(3K - 1))."""
    masked = dims // 2
    out = (dims - masked) * (3 * bins - 1)
    return [(masked, hidden), (hidden,), (hidden, hidden), (hidden,), (hidden, out), (out,)]


def _tf_spline_params(tf, raw, bins, bound):
    spare = 2 * bound - bins * MIN_WIDTH
    return (MIN_WIDTH + spare * tf.nn.softmax(raw[..., :bins], -1),
            MIN_WIDTH + spare * tf.nn.softmax(raw[..., bins:2 * bins], -1),
            MIN_SLOPE + tf.nn.softplus(raw[..., 2 * bins:]))


def spline_flow(weights, dims, layers, bins, bound):
    """The reference spline coupling flow (float64) carrying ``weights``: 6 arrays per coupling,
    the coupling applied first to the base sample first, reversals in between."""
    import tensorflow_probability as tfp

    from flowlab.tfenv import tf

    tfd, tfb = tfp.distributions, tfp.bijectors
    masked = dims // 2
    bijectors = []
    for layer in range(layers):
        consts = [tf.constant(np.asarray(a, np.float64)) for a in weights[6 * layer:6 * layer + 6]]

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


def on_data_scale(flow, train):
    """``flow`` read as a density of points standardised by ``train``'s mean and standard deviation,
    as lab 05 trains its two-moons flows: ``x = mean + std * y`` after the flow's own bijector."""
    import tensorflow_probability as tfp

    tfd, tfb = tfp.distributions, tfp.bijectors
    train = np.asarray(train, np.float64)
    return tfd.TransformedDistribution(flow, tfb.Chain([tfb.Shift(train.mean(0)),
                                                        tfb.Scale(train.std(0))]))


# --- Tasks 4-7: spectral normalisation, the fixed point, the residual log-det ----------------------

def largest_singular_value(kernel) -> float:
    return float(np.linalg.svd(np.asarray(kernel, np.float64), compute_uv=False)[0])


def spectral_normalize(kernel, coefficient):
    """The kernel scaled by ``min(1, coefficient / sigma)``, sigma from an exact SVD."""
    kernel = np.asarray(kernel, np.float64)
    return kernel * min(1.0, coefficient / largest_singular_value(kernel))


def contraction(z, w):
    """The contraction ``g(z) = tanh(z W)`` the fixed-point task is probed with."""
    return np.tanh(z @ w)


def residual_inverse(x, w, iterations=300):
    """The ``z`` with ``z + tanh(z W) = x``, to float64 precision for ``Lip < 0.9``."""
    z = np.array(x, np.float64)
    for _ in range(iterations):
        z = x - contraction(z, w)
    return z


def jacobians(z, a, b):
    """Jacobians of ``g(z) = 0.8 tanh(z A) B`` for each row z: ``J[i, k] = d g_i / d z_k``."""
    sech2 = 1.0 - np.tanh(z @ a) ** 2
    return 0.8 * np.einsum("kj,nj,ji->nik", a, sech2, b)


def series_with_exact_traces(jac, terms: int) -> np.ndarray:
    """The log-det power series cut after ``terms`` terms, with exact traces: what a one-probe
    Hutchinson estimate of it averages to."""
    powers, series = np.eye(jac.shape[-1])[None], np.zeros(len(jac))
    for k in range(1, terms + 1):
        powers = powers @ jac
        series += (-1) ** (k + 1) / k * np.trace(powers, axis1=1, axis2=2)
    return series


# --- Task 8: FFJORD's time-derivative network -----------------------------------------------------

def mlp_tanh(weights, inputs):
    """Dense-tanh, Dense-tanh, Dense: the time-derivative network with given weights."""
    w1, b1, w2, b2, w3, b3 = (np.asarray(w, np.float64) for w in weights)
    h = np.tanh(inputs @ w1 + b1)
    return np.tanh(h @ w2 + b2) @ w3 + b3
