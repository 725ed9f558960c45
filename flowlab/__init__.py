"""flowlab: the shared code behind the normalizing-flow labs.

Importing the package only sets the environment TensorFlow needs; it does not import TensorFlow,
so the command-line tools stay fast. Notebooks import :mod:`flowlab.tfenv` to load TensorFlow.
"""

import os

# tf.keras must be tf-keras: Keras 3 cannot pass a Keras input through a TFP distribution.
# setdefault, not assignment, so that a user who deliberately chose otherwise is not overridden.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
