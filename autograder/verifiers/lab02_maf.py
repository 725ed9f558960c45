"""Trusted checks of lab 02 (MAF): judged outside the student's kernel on fresh probes.

The student's MAF layers come back as their networks' settings and weights; the judges rebuild
them here with TFP (the reference layer, or the student's own settings where a later task must not
re-grade an earlier one) and compare what they compute on probe points with what the notebook
computed. The trained flow's held-out NLL is computed here, from its weights, on two-moons points
drawn afresh for each grading run.
"""

import contextlib
import math

import numpy as np

from flowlab import budgets, checks, data, training
from flowlab.course.grading.verifier import Task

HIDDEN_UNITS = [128, 128]
REFERENCE_CONFIG = {"params": 2, "hidden_units": HIDDEN_UNITS, "activation": "relu", "use_bias": True}
CHAIN_LAYERS = ["MaskedAutoregressiveFlow", "Permute", "MaskedAutoregressiveFlow", "Permute",
                "MaskedAutoregressiveFlow"]
MAF_POSITIONS = (0, 2, 4)
LEARNING_RATE = 1e-3
# Keras's Adam defaults: the compile task asks for Adam as Keras makes it, at learning rate 1e-3.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-7
HELD_OUT_POINTS = 10000
# Unchanged from the hidden test this replaces. Under the grading budget (16 epochs) the reference
# ended at 0.73-0.90 nats over seeds 0-4 on the course's held-out split, and one epoch left it on
# the early plateau at 1.38-1.71. Scored here on fresh draws, graded runs gave 0.83, 0.84, 0.58
# (seed 0) and 0.46 (seed 1), one epoch 1.59; seeds 2-4 are still to be measured (flowlab audit).
HELD_OUT_LIMIT = 1.15


def probes(rng):
    def log_probs(n):
        # Log-probabilities whose mean is well away from 0, so that a summed loss (n times the
        # mean) and a mean one differ for every n > 1; one point alone checks the sign and scale.
        values = rng.uniform(-4.0, 2.0, n)
        return (values - values.mean() + rng.uniform(-2.5, -0.7)).astype(np.float32)

    def gradients():
        signs = rng.choice([-1.0, 1.0], 6)
        return (signs * rng.uniform(0.05, 5.0, 6)).astype(np.float32)

    return {"points": (1.5 * rng.standard_normal((16, 2))).astype(np.float32),
            "z": (1.5 * rng.standard_normal((16, 2))).astype(np.float32),
            "lp1": log_probs(1), "lp5": log_probs(5), "lp9": log_probs(9),
            "labels1": rng.normal(0, 3, 1).astype(np.float32),
            "labels5": rng.normal(0, 3, 5).astype(np.float32),
            "labels5b": rng.normal(0, 3, 5).astype(np.float32),
            "labels9": rng.normal(0, 3, 9).astype(np.float32),
            "start": rng.uniform(-3.0, 3.0, 6).astype(np.float32),
            "grad1": gradients(), "grad2": gradients(),
            # Not sent to the notebook: the held-out two-moons draw (0 and 1 are the course's own
            # training and held-out seeds).
            "moons_seed": np.int64(rng.integers(2, 2**31 - 1))}


# --- Rebuilding MAF layers here, with TFP -------------------------------------------------------

def _tf():
    # TensorFlow loads only when a judge needs it, in the grader's process.
    from flowlab.tfenv import tf, tfb, tfd

    return tf, tfb, tfd


def reference_maf(config=None):
    """A MAF layer on a fresh MADE: by default the lab's (params=2, hidden units [128, 128], ReLU);
    with ``config`` (params, hidden_units, activation, use_bias) one like the student's."""
    _, tfb, _ = _tf()
    config = config or REFERENCE_CONFIG
    network = tfb.AutoregressiveNetwork(params=config["params"], event_shape=[2],
                                        hidden_units=list(config["hidden_units"]),
                                        activation=config["activation"], use_bias=config["use_bias"])
    return tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=network)


def maf_with_weights(weights, name: str, config=None):
    """A rebuilt MAF layer carrying ``weights`` (the student's network's, in order)."""
    layer = reference_maf(config)
    network = layer._shift_and_log_scale_fn
    network(np.zeros((1, 2), np.float32))
    theirs = [tuple(np.shape(w)) for w in weights]
    ours = [tuple(w.shape) for w in network.get_weights()]
    if config is None:
        checks.expect(theirs == ours,
                      f"the network of {name} has weights of shapes {theirs}; a network with params=2 "
                      f"and hidden_units=[128, 128] on 2-D points has {ours}.")
    else:
        checks.expect(theirs == ours, f"the weights of {name} ({theirs}) do not fit its own settings "
                                      f"{config} ({ours}).")
    network.set_weights([np.asarray(w, np.float32) for w in weights])
    return layer


def flow_from(layers):
    """MAF / Permute / MAF / Permute / MAF on the standard normal, from three rebuilt MAF layers."""
    _, tfb, tfd = _tf()
    bijector = tfb.Chain([layers[0], tfb.Permute([1, 0]), layers[1], tfb.Permute([1, 0]), layers[2]])
    return tfd.TransformedDistribution(tfd.MultivariateNormalDiag(loc=[0.0, 0.0]), bijector)


def numbers(tensor) -> np.ndarray:
    return np.asarray(tensor, dtype=np.float64)



def expect_network(ev, key: str, name: str) -> None:
    found = [qualified.rsplit(".", 1)[-1] for qualified in ev.kind(key)]
    checks.expect("AutoregressiveNetwork" in found,
                  f"{name} should get its shift and log-scale from a tfb.AutoregressiveNetwork passed "
                  f"as shift_and_log_scale_fn, but it uses a {found[0]}.")


def student_config(ev, key: str, name: str) -> dict:
    config = ev[key]
    checks.expect(isinstance(config, dict) and set(config) == set(REFERENCE_CONFIG),
                  f"could not read the settings of {name}'s network.")
    checks.expect(config["activation"] is None or isinstance(config["activation"], str),
                  f"could not tell the activation of {name}'s network.")
    checks.expect(isinstance(config["params"], int) and config["params"] == 2,
                  f"{name}'s network should have params=2 (a shift and a log-scale per coordinate), "
                  f"has {config['params']}.")
    return config


# --- Evidence expressions -----------------------------------------------------------------------

def network_of(layer: str) -> str:
    return f"{layer}._shift_and_log_scale_fn"


def config_of(layer: str) -> str:
    return ("(lambda n: {'params': n._params, 'hidden_units': [int(u) for u in n._hidden_units], "
            "'activation': getattr(n._activation, '__name__', n._activation), "
            f"'use_bias': bool(n._use_bias)}})({network_of(layer)})")


def maf_evidence(layer: str, prefix: str = "") -> dict:
    return {f"{prefix}net_kind": f"_kind({network_of(layer)})",
            f"{prefix}config": config_of(layer),
            f"{prefix}weights": f"_weights({network_of(layer)})"}


# One fresh layer, bound to _L in the evidence scope (expressions run in order in one scope).
MAKE_MAF = {"kind": "_kind(_L := make_maf())",
            "forward": "_L.forward(_P.points)",
            "inverse": "_L.inverse(_P.points)",
            "log_det": "_L.forward_log_det_jacobian(_P.points, event_ndims=1)",
            "round_trip": "_L.inverse(_L.forward(_P.z))",
            "output_shape": f"list({network_of('_L')}(_P.points).shape)",
            **maf_evidence("_L"),
            "fresh": f"(make_maf() is not _L) and ({network_of('make_maf()')} is not {network_of('_L')})"}


def judge_make_maf(ev):
    ev.expect_kind("kind", "make_maf()", "MaskedAutoregressiveFlow")
    expect_network(ev, "net_kind", "make_maf()")
    checks.expect(ev["fresh"] is True, "make_maf() should build a new layer and a new network on every call.")
    config = student_config(ev, "config", "make_maf()")
    checks.expect(config["hidden_units"] == HIDDEN_UNITS,
                  f"the network should have hidden_units=[128, 128], has {config['hidden_units']}.")
    checks.expect(ev.array("output_shape").tolist() == [16, 2, 2],
                  f"the network's output for 16 points should have shape [16, 2, 2], has "
                  f"{ev.array('output_shape').tolist()}.")
    points = ev.probes["points"]
    # With the student's weights in the reference layer, both must compute the same map: another
    # activation, no bias or other outputs per coordinate show up here, where shapes agree.
    reference = maf_with_weights(ev["weights"], "make_maf()")
    checks.expect_close(ev.array("forward"), numbers(reference.forward(points)), "make_maf().forward",
                        atol=1e-4)
    checks.expect_close(ev.array("inverse"), numbers(reference.inverse(points)), "make_maf().inverse",
                        atol=1e-4)
    log_det = numbers(reference.forward_log_det_jacobian(points, event_ndims=1))
    checks.expect_close(ev.array("log_det"), log_det, "make_maf().forward_log_det_jacobian", atol=1e-4)
    checks.expect_close(ev.array("round_trip"), ev.probes["z"], "the round trip inverse(forward(z))",
                        atol=1e-4)
    # A MAF's log-determinant is the sum of its log-scales, so it varies from point to point once
    # the network is nonlinear; a constant one would mean an affine, not autoregressive, layer.
    checks.expect(np.ptp(log_det) > 1e-6, "the log-determinant of make_maf() is the same everywhere.")


PERMUTE = {"kind": "_kind(permute)",
           "permutation": "permute.permutation",
           "forward": "permute.forward(_P.points)",
           "inverse": "permute.inverse(_P.points)",
           "round_trip": "permute.inverse(permute.forward(_P.z))",
           "log_det": "_np.broadcast_to(permute.forward_log_det_jacobian(_P.points, event_ndims=1), "
                      "(len(_P.points),))"}


def judge_permute(ev):
    ev.expect_kind("kind", "permute", "Permute")
    checks.expect_close(ev.array("permutation"), [1, 0], "permute.permutation")
    points = ev.probes["points"].astype(np.float64)
    checks.expect_close(ev.array("forward"), points[:, ::-1], "permute.forward", atol=1e-6)
    checks.expect_close(ev.array("inverse"), points[:, ::-1], "permute.inverse", atol=1e-6)
    checks.expect_close(ev.array("round_trip"), ev.probes["z"], "the round trip inverse(forward(z))",
                        atol=1e-6)
    checks.expect_close(ev.array("log_det"), np.zeros(len(points)), "the log-determinant of a permutation")


CHAIN = {"kind": "_kind(bijector)",
         "layers": "[type(b).__name__.lstrip('_') for b in bijector.bijectors]",
         "td_kind": "_kind(td)",
         "event_shape": "list(td.event_shape)",
         "sample_shape": "list(td.sample(5).shape)",
         "log_prob": "td.log_prob(_P.points)",
         "forward": "bijector.forward(_P.z)",
         "round_trip": "bijector.inverse(bijector.forward(_P.z))",
         "networks": f"len({{id({network_of('bijector.bijectors[i]')}) for i in (0, 2, 4)}})",
         "permutations": "[bijector.bijectors[i].permutation for i in (1, 3)]",
         **{key: value for i in MAF_POSITIONS
            for key, value in maf_evidence(f"bijector.bijectors[{i}]", f"maf{i}_").items()}}


def student_layers(ev, owner: str) -> list:
    """The student's three MAF layers rebuilt with their own settings and weights."""
    layers = []
    for i in MAF_POSITIONS:
        name = f"{owner}.bijectors[{i}]"
        expect_network(ev, f"maf{i}_net_kind", name)
        config = student_config(ev, f"maf{i}_config", name)
        layers.append(maf_with_weights(ev[f"maf{i}_weights"], name, config))
    return layers


def judge_chain(ev):
    ev.expect_kind("kind", "bijector", "Chain")
    checks.expect(ev["layers"] == CHAIN_LAYERS,
                  f"bijector should list the bijectors {CHAIN_LAYERS}, but lists {ev['layers']}.")
    ev.expect_kind("td_kind", "td", "TransformedDistribution")
    checks.expect(ev.array("event_shape").tolist() == [2],
                  f"td.event_shape should be [2], is {ev.array('event_shape').tolist()}.")
    checks.expect(ev.array("sample_shape").tolist() == [5, 2],
                  f"td.sample(5) should have shape [5, 2], has {ev.array('sample_shape').tolist()}.")
    checks.expect(int(ev.array("networks")) == 3,
                  "the three MAF layers should each have their own network (call make_maf() 3 times).")
    checks.expect_close(ev.array("permutations"), [[1, 0], [1, 0]], "the permutations between the MAF layers")
    # The student's own layers (their settings and weights, whatever make_maf got right) in the
    # reference order on the reference base: td must compute exactly this flow.
    reference = flow_from(student_layers(ev, "bijector"))
    points, z = ev.probes["points"], ev.probes["z"]
    checks.expect_close(ev.array("forward"), numbers(reference.bijector.forward(z)), "bijector.forward",
                        atol=1e-4)
    checks.expect_close(ev.array("round_trip"), z, "the round trip bijector.inverse(bijector.forward(z))",
                        atol=1e-4)
    checks.expect_close(ev.array("log_prob"), numbers(reference.log_prob(points)), "td.log_prob", atol=1e-4)


KERAS_MODEL = {"kind": "_kind(model)",
               "name": "str(model.name)",
               "input_shape": "str(tuple(model.input_shape))",
               "output_shape": "str(tuple(model.output_shape))",
               "output": "model(_P.points)",
               "predict": "model.predict(_P.z, verbose=0)",
               "td_points": "td.log_prob(_P.points)",
               "td_z": "td.log_prob(_P.z)",
               "trains": "len(model.trainable_variables)",
               "shared": "len({v.ref() for v in model.trainable_variables} "
                         "& {v.ref() for v in td.trainable_variables})",
               "td_variables": "len(td.trainable_variables)"}


def judge_keras_model(ev):
    ev.expect_kind("kind", "model", "Model")
    checks.expect(ev["name"] != training.LOG_PROB_MODEL_NAME,
                  "model comes from flowlab.training.log_prob_model: build it here, from tf.keras.Input "
                  "and td.log_prob.")
    checks.expect(ev["input_shape"] == "(None, 2)",
                  f"model should take batches of 2-D points, shape (None, 2); it takes {ev['input_shape']}.")
    checks.expect(ev["output_shape"] == "(None,)",
                  f"model should give one number per point, shape (None,); it gives {ev['output_shape']}.")
    # Whether td itself is right is the chain task's business; here model must compute td.log_prob.
    checks.expect_close(ev.array("output"), ev.array("td_points"), "model(points), compared with td.log_prob",
                        atol=1e-4)
    checks.expect_close(ev.array("predict"), ev.array("td_z"), "model.predict, compared with td.log_prob",
                        atol=1e-4)
    # Training moves the model's weights, so they must be exactly the flow's: three networks of
    # three Dense layers, kernel and bias each.
    trains, shared, theirs = (int(ev.array(k)) for k in ("trains", "shared", "td_variables"))
    checks.expect(trains == shared == theirs == 18,
                  f"model should train the 18 weight tensors of the three networks; it trains {trains}, "
                  f"of which {shared} belong to td (td has {theirs}).")


# One optimizer step after another on a fresh variable, by a fresh copy of the student's optimizer
# (the student's own one is left as it is for training).
OPTIMIZER_STEPS = (
    "(lambda tf, o, v: [(o.apply_gradients([(tf.constant(g), v)]), v.numpy().copy())[1] "
    "for g in (_P.grad1, _P.grad2)])(__import__('tensorflow'), "
    "type(model.optimizer).from_config(model.optimizer.get_config()), "
    "__import__('tensorflow').Variable(_P.start))")

TENSOR = "__import__('tensorflow').constant"


def batch_loss(labels: str, log_probs: str) -> str:
    """What training minimises for a batch: Keras's reduction of the compiled loss."""
    return f"model.compute_loss(y={TENSOR}({labels}), y_pred={TENSOR}({log_probs}))"


COMPILE = {"optimizer": "_kind(model.optimizer)",
           "loss_origin": "str(getattr(model.loss, '__module__', None))",
           "learning_rate": "float(model.optimizer.learning_rate)",
           "steps": OPTIMIZER_STEPS,
           "loss1": batch_loss("_P.labels1", "_P.lp1"),
           "loss5": batch_loss("_P.labels5", "_P.lp5"),
           "loss5b": batch_loss("_P.labels5b", "_P.lp5"),
           "loss5_zero": batch_loss("_np.zeros(5, _np.float32)", "_P.lp5"),
           "loss9": batch_loss("_P.labels9", "_P.lp9")}


def adam_steps(start, gradients) -> np.ndarray:
    """Keras's Adam at the lab's learning rate, one step per gradient, from ``start``."""
    beta_1, beta_2 = ADAM_BETAS
    value, m, v, trajectory = start.astype(np.float64), 0.0, 0.0, []
    for t, g in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        rate = LEARNING_RATE * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        value = value - rate * m / (np.sqrt(v) + ADAM_EPSILON)
        trajectory.append(value)
    return np.array(trajectory)


def judge_compile(ev):
    checks.expect(not ev["loss_origin"].startswith("flowlab"),
                  "the loss comes from the flowlab package: write the negative log-likelihood here.")
    ev.expect_kind("optimizer", "model.optimizer", "Adam")
    checks.expect_close(ev.array("learning_rate"), LEARNING_RATE, "the learning rate", atol=0, rtol=1e-6)
    start = ev.probes["start"].astype(np.float64)
    expected = adam_steps(start, [ev.probes[g].astype(np.float64) for g in ("grad1", "grad2")])
    steps = ev.array("steps")
    checks.expect_shape(steps, expected.shape, "two steps of model.optimizer")
    # Each step moves a weight by about the learning rate; compare the moves at 1 % of that.
    checks.expect_close(steps - start, expected - start,
                        "the moves of two Adam steps at learning rate 0.001 (other optimizer settings?)",
                        atol=1e-5, rtol=0)
    for key, n in (("loss1", 1), ("loss5", 5), ("loss5b", 5), ("loss5_zero", 5), ("loss9", 9)):
        log_probs = ev.probes[f"lp{n}"].astype(np.float64)
        loss = ev.array(key)
        checks.expect(loss.size == 1, f"the loss of a batch should be one number, is of shape {loss.shape}.")
        checks.expect_close(loss.reshape(()), -log_probs.mean(),
                            f"the training loss of a batch of {n} log-probs "
                            f"{np.round(log_probs, 3).tolist()} with dummy labels (it should be minus "
                            "their mean, whatever the labels)",
                            atol=1e-4, rtol=1e-5)


FIT = {"kind": "_kind(history)",
       "trained_model": "history.model is model",
       "losses": "history.history.get('loss', [])",
       "steps": "history.params.get('steps')",
       "layers": "[type(b).__name__.lstrip('_') for b in td.bijector.bijectors]",
       **{f"maf{i}_weights": f"_weights({network_of(f'td.bijector.bijectors[{i}]')})" for i in MAF_POSITIONS}}


HELD_OUT_NAME = "the held-out NLL on fresh two-moons points"


def expect_training(ev, losses: np.ndarray) -> None:
    """The history of the run the task asks for: the budget's epochs over all of X, loss going down."""
    budget = budgets.budget("lab02_maf")
    checks.expect(len(losses) == budget.epochs,
                  f"model should train for budget.epochs = {budget.epochs} epochs, trained {len(losses)}.")
    checks.expect(bool(np.all(np.isfinite(losses))), "the training loss became NaN or infinite.")
    batches = math.ceil(data.MOONS_TRAIN["n_samples"] / budget.batch_size)
    checks.expect(ev["steps"] == batches,
                  f"one epoch over the {data.MOONS_TRAIN['n_samples']} points of X in batches of "
                  f"{budget.batch_size} is {batches} steps; yours took {ev['steps']}.")
    checks.expect(losses[-1] < losses[0], "the training loss did not go down.")


def judge_fit(ev):
    ev.expect_kind("kind", "history", "History")
    checks.expect(ev["trained_model"] is True,
                  "history should be what model.fit returned: it records the training of another model.")
    checks.expect(ev["layers"] == CHAIN_LAYERS,
                  f"td's bijector should list {CHAIN_LAYERS} to be trained as the sheet's flow; it lists "
                  f"{ev['layers']}.")
    # The trained weights in the reference flow, scored here on two-moons points drawn for this run.
    flow = flow_from([maf_with_weights(ev[f"maf{i}_weights"], f"td.bijector.bijectors[{i}]")
                      for i in MAF_POSITIONS])
    held_out = data.two_moons(HELD_OUT_POINTS, random_state=int(ev.probes["moons_seed"]))
    nll = -float(np.mean(numbers(flow.log_prob(held_out))))
    try:
        expect_training(ev, ev.array("losses").ravel())
    except AssertionError:
        # The reading is noted even so: the audit measures the threshold's margin to wrong answers.
        with contextlib.suppress(AssertionError):
            ev.below(nll, HELD_OUT_LIMIT, HELD_OUT_NAME)
        raise
    ev.below(nll, HELD_OUT_LIMIT, HELD_OUT_NAME)


TASKS = [
    Task("make_maf_test", MAKE_MAF, judge_make_maf),
    Task("permute_test", PERMUTE, judge_permute),
    Task("chain_test", CHAIN, judge_chain),
    Task("keras_model_test", KERAS_MODEL, judge_keras_model),
    Task("compile_test", COMPILE, judge_compile),
    Task("fit_test", FIT, judge_fit),
]
