"""Training a flow by hand: the chores ``model.fit`` does for you, for flows it cannot wrap.

``tf.keras.Model(x, flow.log_prob(x))`` needs the flow to accept a batch of unknown size. Some TFP
bijectors (``tfb.Glow`` among them) build shape tensors that mix int32 and int64 when the batch size
is unknown and fail while tracing. Run eagerly, or traced for one fixed batch size, they work. So this
module does what ``fit`` would: shuffle into fixed-size batches, take gradient steps with
``tf.GradientTape`` inside a ``tf.function``, report progress, track a validation loss, and stop
early, restoring the best weights.

Every traced function here sees one batch shape only, so it is traced once (tracing a Glow takes
seconds); evaluation pads the last chunk instead of feeding a smaller batch.
"""

import math
import sys
import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from flowlab import budgets
from flowlab.tfenv import tf

EVAL_BATCH = 256

# One traced log_prob per distribution, so that repeated evaluations do not trace again.
_LOG_PROB_FNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _traced_log_prob(distribution):
    fn = _LOG_PROB_FNS.get(distribution)
    if fn is None:
        fn = tf.function(distribution.log_prob)
        _LOG_PROB_FNS[distribution] = fn
    return fn


def log_prob(distribution, data, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """``distribution.log_prob`` of every example in ``data``, in fixed-size chunks.

    The last chunk is padded with copies of the first examples and the padding is dropped, so a
    traced function sees a single batch shape whatever the number of examples.
    """
    data = np.asarray(data, dtype=np.float32)
    if len(data) == 0:
        raise ValueError("log_prob needs at least one example.")
    batch_size = min(batch_size, len(data))
    pad = (-len(data)) % batch_size
    padded = np.concatenate([data, np.resize(data, (pad, *data.shape[1:]))]) if pad else data
    fn = _traced_log_prob(distribution)
    parts = [fn(padded[start:start + batch_size]).numpy()
             for start in range(0, len(padded), batch_size)]
    return np.concatenate(parts)[:len(data)]


def held_out_nll(distribution, data, batch_size: int = EVAL_BATCH) -> float:
    """Mean negative log-likelihood (nats per example) of ``data`` under ``distribution``."""
    return float(-log_prob(distribution, data, batch_size).mean())


def initialize(distribution, data, examples: int = 512) -> None:
    """Run one ``log_prob`` on a large batch so data-dependent layers initialise from real data.

    Glow's ActNorm layers set their shift and scale from the first batch they see, once. If that
    batch were two images, or noise drawn by ``sample``, every later batch would be badly scaled.
    """
    data = np.asarray(data, dtype=np.float32)
    distribution.log_prob(data[:examples])


@dataclass
class History:
    """What a training run recorded: mean losses per epoch (nats) and where it stopped."""

    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    trace_seconds: float = 0.0

    @property
    def history(self) -> dict:
        """The losses under Keras' names, so ``plots.loss_curve`` draws them like a Keras run."""
        return {"loss": self.loss, "val_loss": self.val_loss}

    @property
    def seconds_per_epoch(self) -> float:
        """Wall time of one epoch after the first step was traced."""
        return (self.seconds - self.trace_seconds) / max(len(self.loss), 1)


class _Progress:
    """One line per run, rewritten each epoch, on stdout (nbgrader scores stderr output as zero)."""

    def __init__(self, epochs: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=epochs, file=sys.stdout, unit="epoch", ncols=90, leave=True,
                            mininterval=0.5)

    def update(self, loss: float, val_loss: float | None) -> None:
        if self.bar is not None:
            shown = {"loss": f"{loss:.2f}"}
            if val_loss is not None:
                shown["val"] = f"{val_loss:.2f}"
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _batches(examples: int, budget: budgets.Budget) -> int:
    """Full batches an epoch of ``examples`` takes (the remainder is dropped), at most the budget's
    ``steps_per_epoch``."""
    batches = examples // min(budget.batch_size, examples)
    return batches if budget.steps_per_epoch is None else min(batches, budget.steps_per_epoch)


def learning_rate_schedule(learning_rate: float, schedule: str, steps: int):
    """``learning_rate`` held (``"constant"``) or decayed to zero over ``steps`` (``"cosine"``)."""
    if schedule == "cosine":
        return tf.keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    if schedule != "constant":
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}.")
    return learning_rate


def adam_for(variables, learning_rate, clip_norm: float | None = None) -> "tf.keras.optimizers.Adam":
    """An Adam optimizer whose moment slots already exist for ``variables``.

    Slots created inside a training step's first call are new variables, and ``tf.function`` then
    traces the whole step a second time; for a Glow that is half of the first epoch. With
    ``clip_norm``, each step's gradients are scaled down to a global norm of at most ``clip_norm``.
    """
    optimizer = tf.keras.optimizers.Adam(learning_rate, global_clipnorm=clip_norm)
    optimizer.build(list(variables))
    return optimizer


def fit(distribution, train, budget: budgets.Budget, validation=None, learning_rate=1e-3,
        progress: bool = True, seed: int | None = None, variables=None,
        schedule: str = "constant", clip_norm: float | None = None) -> History:
    """Train ``distribution`` by maximum likelihood; return its :class:`History`.

    ``train`` is an array of examples, or a function ``train(epoch)`` returning one (for example a
    fresh dequantization of the same pixels each epoch, so the flow never sees the same noise
    twice). Each epoch is shuffled and cut into ``budget.batch_size`` batches; the remainder is
    dropped so the step is traced for one shape. With ``validation`` and ``budget.patience``,
    training stops after ``patience`` epochs without a better validation loss and the weights of
    the best epoch are restored.

    ``variables`` are the ones to train, by default the distribution's own. TFP does not track a
    network that a ``bijector_fn`` closes over, so a flow built that way passes its networks'
    variables here. ``schedule="cosine"`` decays ``learning_rate`` to zero over the run's steps, as
    :func:`flowlab.training.fit_by_likelihood` does. ``clip_norm`` caps the global norm of each
    step's gradients: Adam's moments otherwise carry one huge gradient into many steps that undo
    the training so far (lab 05's residual flow, unclipped, jumped from 0.43 to 1.22 nats).
    """
    draw = train if callable(train) else (lambda epoch: train)
    variables = list(distribution.trainable_variables if variables is None else variables)
    if not variables:
        raise ValueError("The distribution has no trainable variables; build its layers first, "
                         "or pass the variables of the networks its bijectors call as variables=.")
    first = np.asarray(draw(0), dtype=np.float32) if budget.epochs > 0 else None
    steps = budget.epochs * _batches(len(first), budget) if first is not None else 0
    optimizer = adam_for(variables, learning_rate_schedule(learning_rate, schedule, max(steps, 1)),
                         clip_norm)
    rng = np.random.default_rng(budgets.seed() if seed is None else seed)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(distribution.log_prob(batch))
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    history = History()
    best_weights, best_val, waited = None, math.inf, 0
    bar = _Progress(budget.epochs, progress)
    start = time.perf_counter()
    try:
        for epoch in range(budget.epochs):
            data = first if epoch == 0 else np.asarray(draw(epoch), dtype=np.float32)
            batch_size = min(budget.batch_size, len(data))
            order = rng.permutation(len(data))
            batches = _batches(len(data), budget)
            total = 0.0
            for b in range(batches):
                if epoch == 0 and b == 0:
                    traced = time.perf_counter()
                    total += float(step(data[order[:batch_size]]))
                    history.trace_seconds = time.perf_counter() - traced
                    continue
                total += float(step(data[order[b * batch_size:(b + 1) * batch_size]]))
            history.loss.append(total / batches)
            val_loss = None
            if validation is not None:
                val_loss = held_out_nll(distribution, validation)
                history.val_loss.append(val_loss)
                if val_loss < best_val:
                    best_val, waited, history.best_epoch = val_loss, 0, epoch
                    best_weights = [v.numpy() for v in variables]
                else:
                    waited += 1
            bar.update(history.loss[-1], val_loss)
            if not np.isfinite(history.loss[-1]):
                break
            if budget.patience is not None and waited >= budget.patience:
                history.stopped_early = True
                break
    finally:
        bar.close()
    if best_weights is not None:
        for variable, value in zip(variables, best_weights, strict=True):
            variable.assign(value)
    else:
        history.best_epoch = len(history.loss) - 1
    history.seconds = time.perf_counter() - start
    return history
