"""Training by a loss that needs no data: the chores of lab 06's variational fits.

A flow fitted to an unnormalised density has no data set to batch; each step draws fresh samples
inside the loss. This loop takes the loss as a function of nothing (the lab's own reverse-KL or
distillation loss, wrapped in a lambda), takes Adam steps on the given variables inside a
``tf.function``, and records the loss, so ``plots.loss_curve`` can draw it.
"""

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from flowlab import eager
from flowlab.tfenv import tf


@dataclass
class History:
    """Losses of a run, averaged over blocks of steps, and its wall time."""

    loss: list = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0

    @property
    def history(self) -> dict:
        return {"loss": self.loss}


def fit(loss, trainable, steps: int, learning_rate: float = 1e-3, report_every: int = 100,
        progress: bool = True, decay: bool = True) -> History:
    """Minimise ``loss()`` over ``trainable`` with Adam for ``steps`` steps; return the history.

    ``trainable`` is the distribution (or any object with ``trainable_variables``) being fitted,
    or a list of variables. Keras networks inside a flow create their weights on first use, so
    ``loss()`` is called once before the variables are read.

    With ``decay`` the learning rate follows a cosine from ``learning_rate`` to zero, which settles
    the noisy single-sample-batch gradients of a reverse-KL fit. Progress goes to stdout (nbgrader
    scores stderr output as zero).
    """
    if hasattr(trainable, "trainable_variables"):
        loss()
        trainable = trainable.trainable_variables
    variables = list(trainable)
    if not variables:
        raise ValueError("There are no variables to train: pass the distribution being fitted "
                         "(its trainable_variables are read after a first call of the loss).")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    rate = tf.keras.optimizers.schedules.CosineDecay(learning_rate, steps) if decay else learning_rate
    optimizer = eager.adam_for(variables, rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = loss()
        gradients = tape.gradient(value, variables)
        if any(g is None for g in gradients):
            raise ValueError("The loss does not depend on every variable: a gradient is None.")
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return value

    history = History()
    start = time.perf_counter()
    block = []
    for index in range(steps):
        block.append(float(step()))
        if len(block) == report_every or index == steps - 1:
            history.loss.append(float(np.mean(block)))
            block = []
            if progress:
                print(f"\rstep {index + 1}/{steps}  loss {history.loss[-1]:.3f}", end="",
                      file=sys.stdout, flush=True)
        if not np.isfinite(history.loss[-1] if history.loss else 0.0):
            break
    if progress:
        print(file=sys.stdout)
    history.steps = index + 1
    history.seconds = time.perf_counter() - start
    return history


def sampling_seconds(flows: dict, points: int = 1000, repeats: int = 3) -> dict:
    """Best wall time of ``flow.sample(points)`` for each named flow, traced once beforehand."""
    from flowlab import training

    return {name: training.seconds(tf.function(lambda f=flow: f.sample(points)), repeats)
            for name, flow in flows.items()}
