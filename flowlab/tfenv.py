"""TensorFlow and TFP, imported the way every lab needs them.

``import flowlab.tfenv`` must come before the notebook's own ``import tensorflow``. It

* makes ``tf.keras`` the tf-keras package (Keras 3 cannot trace a TFP distribution),
* swallows the C++ start-up lines TensorFlow prints straight to file descriptor 2 (no environment
  variable silences "Could not find cuda drivers"), because nbgrader gives a test cell zero points
  for any stderr output,
* quiets TensorFlow's Python logger to errors.
"""

import contextlib
import logging
import os
import sys

import flowlab  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)


@contextlib.contextmanager
def silenced_stderr_fd():
    """Point file descriptor 2 at /dev/null for the duration of the block.

    Python's ``sys.stderr`` redirection does not reach messages that C++ code writes directly to the
    descriptor, which is what TensorFlow's start-up logging does.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ImportError(
        "TensorFlow was imported before flowlab.tfenv with TF_USE_LEGACY_KERAS unset, so tf.keras "
        "is Keras 3, which cannot pass Keras inputs through TFP distributions. Restart the kernel "
        "and run the first cell of the notebook before anything else."
    )

with silenced_stderr_fd():
    import tensorflow as tf
    import tensorflow_probability as tfp
    import tf_keras  # noqa: F401  (fails loudly here if tf-keras is not installed)

tf.get_logger().setLevel(logging.ERROR)

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["tf", "tfp", "tfd", "tfb", "silenced_stderr_fd"]
