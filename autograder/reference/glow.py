"""The reference Glow of lab 04, kept out of the student-importable ``flowlab`` package.

``build_glow`` is a graded task of lab 04, so the builder that answers it lives here: the lab 04
verifier rebuilds it with a student's trained weights and scores held-out digits itself, and the
benchmark and the tests build the same model. TensorFlow is imported only when a function needs it.
"""

import math

import numpy as np

BLOCKS = 2
STEPS = 4
HIDDEN = 128
EVAL_BATCH = 512


def make_glow(image_shape=(8, 8, 1), blocks: int = BLOCKS, steps: int = STEPS,
              hidden: int = HIDDEN, seed: int = 0):
    """The lab's Glow bijector and the flow over images it defines: ``(bijector, distribution)``.

    ``tfb.Glow`` maps a flat latent vector to an image, so the base is a standard normal over
    ``h * w * c`` dimensions; couplings use :func:`flowlab.glow.coupling_network`.
    """
    from flowlab import glow
    from flowlab.tfenv import tf, tfb, tfd

    dims = int(np.prod(image_shape))
    bijector = tfb.Glow(output_shape=tuple(image_shape), num_glow_blocks=blocks,
                        num_steps_per_block=steps,
                        coupling_bijector_fn=glow.coupling_network(hidden),
                        exit_bijector_fn=tfb.GlowDefaultExitNetwork, seed=seed)
    base = tfd.MultivariateNormalDiag(loc=tf.zeros(dims))
    return bijector, tfd.TransformedDistribution(distribution=base, bijector=bijector)


def variable_layout(bijector) -> list[tuple[str, tuple]]:
    """``(dtype, shape)`` of each of ``bijector.variables``, in TensorFlow's (deterministic) order."""
    return [(variable.dtype.name, tuple(variable.shape)) for variable in bijector.variables]


def glow_with_weights(values, image_shape=(8, 8, 1)):
    """The reference ``(bijector, flow)`` carrying ``values``, the variables of a Glow built for
    ``image_shape``, in the order of ``bijector.variables``. ``ValueError`` says which do not fit.

    The ActNorm layers are marked initialised, so that evaluating the rebuilt flow keeps the given
    shifts and scales instead of setting them from the data it is evaluated on.
    """
    bijector, flow = make_glow(image_shape)
    variables = list(bijector.variables)
    values = list(values)
    if len(values) != len(variables):
        raise ValueError(f"it has {len(values)} variables; the lab's Glow has {len(variables)}")
    for index, (variable, value) in enumerate(zip(variables, values, strict=True)):
        value = np.asarray(value)
        if variable.shape.rank == 0 and value.shape == (1,):
            value = value.reshape(())  # evidence arrays travel with at least one dimension
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"its variable {index} has shape {tuple(value.shape)}; in the lab's Glow "
                             f"it is {tuple(variable.shape)} ({variable.name})")
        if variable.dtype.is_bool:
            variable.assign(np.ones_like(value, dtype=bool))
        elif variable.dtype.is_integer:
            if not np.array_equal(np.sort(value, axis=-1), np.broadcast_to(np.arange(value.shape[-1]),
                                                                          value.shape)):
                raise ValueError(f"its variable {index} ({variable.name}) is not a permutation")
            variable.assign(value.astype(variable.dtype.as_numpy_dtype))
        else:
            if not np.all(np.isfinite(value)):
                raise ValueError(f"its variable {index} ({variable.name}) holds NaN or infinite values")
            variable.assign(value.astype(variable.dtype.as_numpy_dtype))
    return bijector, flow


def log_prob(flow, x, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """``flow.log_prob`` of every example of ``x``, eagerly in chunks (no tracing)."""
    x = np.asarray(x, dtype=np.float32)
    return np.concatenate([np.asarray(flow.log_prob(x[start:start + batch_size]))
                           for start in range(0, len(x), batch_size)]).astype(np.float64)


def bits_per_dim(log_probs, dims: int, levels: int) -> float:
    """Mean bits/dim of discrete pixels from per-example ``log p`` of their ``[0, 1)`` version.

    Scaling by ``1/levels`` made each dimension's density ``levels`` times larger, so
    ``dims * ln(levels)`` nats are added back before dividing by ``dims * ln 2``. This is lab 04's
    task 5, so it is here rather than in the student-importable package.
    """
    nll = -float(np.mean(log_probs))
    return (nll + dims * math.log(levels)) / (dims * math.log(2))
