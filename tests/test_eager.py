"""The hand-written training loop: batched evaluation, fitting, early stopping, progress output."""

import numpy as np
import pytest

from flowlab import budgets, eager, training, variational
from flowlab.tfenv import tf, tfb, tfd


def gaussian(loc=0.0):
    return tfd.MultivariateNormalDiag(loc=tf.Variable([loc, loc]), scale_diag=[1.0, 1.0])


def test_log_prob_pads_the_last_chunk():
    distribution = tfd.MultivariateNormalDiag(loc=[1.0, -1.0, 0.5])
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    expected = distribution.log_prob(x).numpy()
    np.testing.assert_allclose(eager.log_prob(distribution, x, batch_size=4), expected, rtol=1e-6)
    np.testing.assert_allclose(eager.log_prob(distribution, x[:3], batch_size=4), expected[:3],
                               rtol=1e-6)
    assert eager.held_out_nll(distribution, x, batch_size=4) == pytest.approx(-expected.mean())


def test_fit_moves_the_mean_to_the_data():
    data = np.random.default_rng(1).normal(3.0, 1.0, size=(512, 2)).astype(np.float32)
    distribution = gaussian()
    history = eager.fit(distribution, data, budgets.Budget("test", 30, batch_size=64),
                        learning_rate=0.1, progress=False, seed=0)
    assert len(history.loss) == 30 and history.val_loss == []
    assert history.loss[-1] < history.loss[0]
    np.testing.assert_allclose(distribution.loc.numpy(), data.mean(0), atol=0.15)


def test_fit_calls_train_each_epoch_and_respects_steps_per_epoch():
    seen = []

    def train(epoch):
        seen.append(epoch)
        return np.full((256, 2), 1.0, np.float32)

    history = eager.fit(gaussian(), train, budgets.Budget("test", 3, batch_size=32,
                                                          steps_per_epoch=2),
                        progress=False)
    assert seen == [0, 1, 2] and len(history.loss) == 3


def test_early_stopping_restores_the_best_weights():
    # Training pulls the mean to 3 while the validation data sit at 0: validation only gets worse.
    train = np.random.default_rng(2).normal(3.0, 1.0, size=(256, 2)).astype(np.float32)
    validation = np.random.default_rng(3).normal(0.0, 1.0, size=(64, 2)).astype(np.float32)
    distribution = gaussian()
    history = eager.fit(distribution, train, budgets.Budget("test", 50, batch_size=32, patience=3),
                        validation=validation, learning_rate=0.1, progress=False)
    assert history.stopped_early and history.best_epoch == 0 and len(history.loss) == 4
    assert np.all(np.diff(history.val_loss) > 0)
    assert eager.held_out_nll(distribution, validation) == pytest.approx(history.val_loss[0],
                                                                         rel=1e-5)
    assert history.history == {"loss": history.loss, "val_loss": history.val_loss}


def test_progress_goes_to_stdout_only(capsys):
    data = np.zeros((64, 2), np.float32)
    eager.fit(gaussian(), data, budgets.Budget("test", 2, batch_size=32), progress=True)
    out, err = capsys.readouterr()
    assert "2/2" in out and err == ""
    eager.fit(gaussian(), data, budgets.Budget("test", 2, batch_size=32), progress=False)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_fit_refuses_a_distribution_without_variables():
    with pytest.raises(ValueError, match="no trainable variables"):
        eager.fit(tfd.MultivariateNormalDiag(loc=[0.0]), np.zeros((8, 1), np.float32),
                  budgets.Budget("test", 1), progress=False)


def test_fit_trains_the_variables_it_is_given_when_the_flow_does_not_track_them():
    # A coupling whose bijector_fn closes over a variable: TFP does not see it as the flow's.
    shift = tf.Variable([0.0])
    coupling = tfb.RealNVP(num_masked=1, bijector_fn=lambda x1, units: tfb.Shift(shift))
    flow = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(loc=[0.0, 0.0]), coupling)
    assert flow.trainable_variables == ()
    data = np.random.default_rng(4).normal(-2.0, 1.0, size=(512, 2)).astype(np.float32)
    eager.fit(flow, data, budgets.Budget("test", 30, batch_size=64), learning_rate=0.1,
              progress=False, seed=0, variables=[shift])
    np.testing.assert_allclose(shift.numpy(), data[:, 1:].mean(0), atol=0.15)


@pytest.mark.parametrize(("schedule", "moved"), [("constant", 0.2), ("cosine", 0.15)])
def test_a_cosine_schedule_halves_the_second_of_two_steps(schedule, moved):
    # Adam's first steps move a parameter by about the learning rate whatever the gradient's size:
    # 0.1 then 0.1 when constant, 0.1 then 0.05 on a cosine decaying to zero over the two steps.
    data = np.full((64, 2), 3.0, np.float32)
    distribution = gaussian()
    eager.fit(distribution, data, budgets.Budget("test", 2, batch_size=64), learning_rate=0.1,
              schedule=schedule, progress=False)
    np.testing.assert_allclose(distribution.loc.numpy(), [moved, moved], atol=0.005)


def _adam_positions(gradients_at, steps, learning_rate, clip_norm=None):
    # Adam (Kingma and Ba) step by step in NumPy, the reference for eager.fit's optimizer.
    position, m, v = np.zeros(2), np.zeros(2), np.zeros(2)
    for t in range(1, steps + 1):
        g = gradients_at(t, position)
        if clip_norm is not None:
            g = g * min(1.0, clip_norm / np.linalg.norm(g))
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g ** 2
        position = position - learning_rate * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-7)
    return position


def test_clip_norm_caps_a_huge_gradient_before_adam_remembers_it():
    # The first epoch's points sit at 100 (a gradient of norm 141), the second's at 0.5. Adam is
    # blind to one gradient's scale, so only the second step shows whether the first was clipped.
    targets = {0: 100.0, 1: 0.5}
    positions = {}
    for clip_norm in (None, 1.0):
        distribution = gaussian()
        eager.fit(distribution, lambda epoch: np.full((8, 2), targets[epoch], np.float32),
                  budgets.Budget("test", 2, batch_size=8), learning_rate=0.1, clip_norm=clip_norm,
                  progress=False)
        positions[clip_norm] = distribution.loc.numpy()
        expected = _adam_positions(lambda t, position: position - targets[t - 1], 2, 0.1, clip_norm)
        np.testing.assert_allclose(positions[clip_norm], expected, atol=1e-4)
    assert abs(positions[None][0] - positions[1.0][0]) > 0.02


def test_an_unknown_schedule_is_refused_and_no_epochs_draw_nothing():
    with pytest.raises(ValueError, match="'constant' or 'cosine'"):
        eager.fit(gaussian(), np.zeros((8, 2), np.float32), budgets.Budget("test", 1, batch_size=8),
                  schedule="linear", progress=False)

    def train(epoch):
        raise AssertionError("a run of no epochs drew training data")

    history = eager.fit(gaussian(), train, budgets.Budget("test", 0, batch_size=8), progress=False)
    assert history.loss == []


class CountingGaussian:
    """A unit Gaussian with a trainable mean whose ``log_prob`` counts its Python calls: inside a
    ``tf.function`` Python runs only while tracing, so the count is the number of traces."""

    def __init__(self):
        self.loc = tf.Variable([0.0, 0.0])
        self.trainable_variables = (self.loc,)
        self.calls = 0

    def log_prob(self, x):
        self.calls += 1
        return -0.5 * tf.reduce_sum((x - self.loc) ** 2, axis=-1)


def test_every_training_loop_traces_its_step_once():
    data = np.random.default_rng(4).normal(1.0, 1.0, size=(96, 2)).astype(np.float32)
    counting = CountingGaussian()
    eager.fit(counting, data, budgets.Budget("test", 3, batch_size=32), progress=False)
    assert counting.calls == 1

    counting = CountingGaussian()
    variational.fit(lambda: -tf.reduce_mean(counting.log_prob(data)), [counting.loc], steps=5,
                    progress=False)
    assert counting.calls == 1

    history = training.fit_by_likelihood(gaussian(), data, budgets.Budget("test", 3, batch_size=32))
    assert history.model.train_function.experimental_get_tracing_count() == 1
