"""Helpers the visible tests call, so a failing check tells the student what to fix.

Each raises ``AssertionError`` with a message in the lab's words; nbgrader shows it in the
feedback and gives the test cell no points.
"""

import numpy as np


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
    """A score such as a held-out NLL must be below ``limit``."""
    value = float(value)
    expect(np.isfinite(value), f"{name} is {value}, not a finite number.")
    expect(value < limit, f"{name} is {value:.4f}, but should be below {limit}.")
