"""Helpers the visible tests call, so a failing check tells the student what to fix.

Each raises ``AssertionError`` with a message in the lab's words; nbgrader shows it in the
feedback and gives the test cell no points.
"""

import re

import numpy as np

THRESHOLD_LINE = re.compile(
    r"^(?P<name>.+): (?P<value>\S+) \(threshold (?P<limit>[^)]+)\)$", re.M)


def expect(condition, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise AssertionError(message)


def expect_instance(value, kind, name: str) -> None:
    """``value`` must be an instance of ``kind`` (a class or tuple of classes)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    expected = " or ".join(k.__name__ for k in kinds)
    expect(isinstance(value, kinds),
           f"{name} should be a {expected}, but it is a {type(value).__name__}.")


def expect_shape(value, shape, name: str) -> None:
    """``value`` (array, tensor or TensorShape) must have exactly ``shape``."""
    actual = tuple(getattr(value, "shape", value))
    expect(actual == tuple(shape), f"{name} should have shape {tuple(shape)}, but has {actual}.")


def expect_close(actual, expected, name: str, atol: float = 1e-5, rtol: float = 1e-5) -> None:
    """``actual`` must equal ``expected`` within tolerance; the message shows the worst entry."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    expect(actual.shape == expected.shape,
           f"{name} should have shape {expected.shape}, but has {actual.shape}.")
    if not np.allclose(actual, expected, atol=atol, rtol=rtol):
        worst = np.unravel_index(np.argmax(np.abs(actual - expected)), actual.shape)
        raise AssertionError(
            f"{name} is not what it should be: at index {tuple(int(i) for i in worst)} it is "
            f"{actual[worst]:.6g}, expected {expected[worst]:.6g}."
        )


def expect_layers(chain, kinds, name: str = "the chain") -> None:
    """A ``tfb.Chain``'s bijectors must have these types, in the order they are *listed*.

    ``tfb.Chain([a, b, c])`` applies ``c`` first; this compares the list as written.
    """
    layers = list(getattr(chain, "bijectors", []))
    actual = [type(layer).__name__ for layer in layers]
    expected = [kind.__name__ for kind in kinds]
    expect(actual == expected,
           f"{name} should list the bijectors {expected}, but lists {actual}.")


def expect_below(value: float, limit: float, name: str) -> None:
    """A score such as a held-out NLL must be below ``limit``.

    The value and threshold are printed either way: students see how close they are, and the
    graders' stability report reads the margin from this line (:data:`THRESHOLD_LINE`).
    """
    value = float(value)
    print(f"{name}: {value:.4f} (threshold {limit})")
    expect(np.isfinite(value), f"{name} is {value}, not a finite number.")
    expect(value < limit, f"{name} is {value:.4f}, but should be below {limit}.")


def autoregressive_network(layer, name: str = "the MAF layer"):
    """The ``tfb.AutoregressiveNetwork`` inside a ``tfb.MaskedAutoregressiveFlow``.

    TFP keeps it as the flow's shift-and-log-scale function and has no public accessor for it.
    """
    from flowlab.tfenv import tfb

    expect_instance(layer, tfb.MaskedAutoregressiveFlow, name)
    network = getattr(layer, "_shift_and_log_scale_fn", None)
    expect(isinstance(network, tfb.AutoregressiveNetwork),
           f"{name} should get its shift and log-scale from a tfb.AutoregressiveNetwork passed as "
           f"shift_and_log_scale_fn, but it uses a {type(network).__name__}.")
    return network


def expect_same_maf(layer, reference, points, name: str = "the MAF layer") -> None:
    """``layer`` computes what ``reference`` does once ``reference`` carries ``layer``'s weights.

    Both MAF layers are built on ``points``, the weights of ``layer``'s network are copied into
    ``reference``'s, and forward, inverse and log-determinant are compared. A different number of
    hidden units, another activation or other outputs per dimension all show up here.
    """
    network = autoregressive_network(layer, name)
    target = autoregressive_network(reference, "the reference")
    points = np.asarray(points, dtype=np.float32)
    layer.forward(points)
    reference.forward(points)
    ours = [w.shape for w in network.get_weights()]
    theirs = [w.shape for w in target.get_weights()]
    expect(ours == theirs,
           f"the network of {name} has weights of shapes {ours}; a network with params=2 and "
           f"hidden_units=[128, 128] on 2-D points has {theirs}.")
    target.set_weights(network.get_weights())
    expect_close(layer.forward(points), reference.forward(points), f"{name}.forward", atol=1e-4)
    expect_close(layer.inverse(points), reference.inverse(points), f"{name}.inverse", atol=1e-4)
    expect_close(layer.forward_log_det_jacobian(points, event_ndims=1),
                 reference.forward_log_det_jacobian(points, event_ndims=1),
                 f"{name}.forward_log_det_jacobian", atol=1e-4)


def expect_tfp_instance(value, kind, name: str) -> None:
    """``value`` must be what calling the TFP class ``kind`` returns, e.g. ``tfb.Chain([...])``.

    For parts that are not composite tensors (a MAF holding a Keras network is one), TFP classes
    such as ``tfb.Chain`` and ``tfd.TransformedDistribution`` return an instance of their private
    base class (``_Chain``, ``_TransformedDistribution``), which is not an instance of ``kind``.
    """
    private = [base for base in kind.__mro__[1:] if base.__name__ == "_" + kind.__name__]
    expect(isinstance(value, (kind, *private)),
           f"{name} should be a {kind.__name__}, but it is a {type(value).__name__}.")
