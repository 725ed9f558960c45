"""Trusted checks of lab 04 (Glow): judged outside the student's kernel on fresh probes.

Functions are called on inputs and objects the notebook does not hold: images of other shapes and
levels, density models, flows and bijectors built inside the request from this run's probe arrays.
The trained Glow is judged by its weights: the verifier rebuilds the reference architecture
(``autograder/reference/glow.py``) with them and scores the course's held-out test digits itself.
"""

import math
from functools import cache

import numpy as np

from flowlab import budgets, checks, data, density, glow
from flowlab.course.grading.verifier import Task, load_reference

reference = load_reference("glow")

# bits/dim of the discrete test digits (fixed noise 0), the lab's threshold, unchanged by the move
# to trusted grading. Grading budget (16 epochs), computed by this verifier: the reference at seed 0
# scores 2.581. The other seeds and the catalog's wrong trainings still have to be re-measured with
# `flowlab audit lab04_glow` (it timed out on a loaded machine; see the conversion's report).
BPD_LIMIT = 2.75
DIGIT_SHAPE = (8, 8, 1)
# The lab's matrix W (task 2); conv must multiply every pixel's channels by it.
W = np.array([[1.5, 0.3, -0.2, 0.1],
              [0.4, -0.8, 0.5, 0.0],
              [0.1, 0.6, 1.2, -0.7],
              [-0.3, 0.2, 0.4, 0.9]])
# Probe flows and bijectors: a flat latent of LATENT numbers mapped to images of PROBE_SHAPE.
PROBE_SHAPE = (4, 4, 3)
LATENT = int(np.prod(PROBE_SHAPE))
BPD_SHAPE = (4, 4, 2)
COLOUR_SHAPE = (8, 8, 3)
SAMPLES = 2000

_TFB = "__import__('tensorflow_probability').bijectors"
_TFD = "__import__('tensorflow_probability').distributions"


def probes(rng):
    # Numbers travel as 1-element arrays (the kernel receives arrays of at least one dimension).
    digits = glow.dequantized(data.digits(), "test")
    pair = rng.choice(len(digits), size=2, replace=False)
    latent_ends = rng.standard_normal((4, LATENT))
    shift, scale = rng.normal(0.0, 0.5, LATENT), rng.uniform(0.6, 1.4, LATENT)
    ends = 1.0 / (1.0 + np.exp(-(latent_ends * scale + shift)))
    packed_lu = rng.normal(0.0, 0.5, (6, 6))
    np.fill_diagonal(packed_lu, rng.choice([-1.0, 1.0], 6) * np.exp(rng.uniform(0.2, 0.8, 6)))
    levels = int(rng.integers(5, 40))
    return {
        "x1": rng.standard_normal((3, 8, 4, 2)).astype(np.float32),
        "x2": rng.standard_normal((2, 4, 6, 3)).astype(np.float32),
        "y": rng.standard_normal((2, 2, 3, 8)).astype(np.float32),
        "pixels": rng.standard_normal((2, 3, 5, 4)).astype(np.float32),
        "packed_lu": packed_lu.astype(np.float32),
        "height": np.array([rng.integers(2, 6)]), "width": np.array([rng.integers(2, 6)]),
        "latent3": rng.standard_normal((5, int(np.prod(COLOUR_SHAPE)))).astype(np.float32),
        "images": rng.integers(0, levels, (60, *BPD_SHAPE)),
        "levels": np.array([levels]),
        "loc": rng.uniform(0.2, 0.8, BPD_SHAPE).astype(np.float32),
        "spread": rng.uniform(0.15, 0.4, BPD_SHAPE).astype(np.float32),
        "shift": shift.astype(np.float32), "scale": scale.astype(np.float32),
        "cold": np.array([rng.uniform(0.3, 0.45)]), "warm": np.array([rng.uniform(0.65, 0.85)]),
        "ends": ends.reshape(4, *PROBE_SHAPE).astype(np.float32),
        "steps1": np.array([rng.integers(5, 9)]), "steps2": np.array([rng.integers(3, 5)]),
        "digit_a": digits[pair[0]], "digit_b": digits[pair[1]],
    }


# --- references, written from the lab sheet's definitions ---------------------------------------

def space_to_depth(x: np.ndarray) -> np.ndarray:
    """Pixel (2i + a, 2j + b), channel k -> position (i, j), channel (2a + b) c + k."""
    n, h, w, c = x.shape
    out = np.empty((n, h // 2, w // 2, 4 * c), dtype=x.dtype)
    for a in range(2):
        for b in range(2):
            out[..., (2 * a + b) * c:(2 * a + b + 1) * c] = x[:, a::2, b::2, :]
    return out


def depth_to_space(y: np.ndarray) -> np.ndarray:
    n, h, w, c4 = y.shape
    c = c4 // 4
    out = np.empty((n, 2 * h, 2 * w, c), dtype=y.dtype)
    for a in range(2):
        for b in range(2):
            out[:, a::2, b::2, :] = y[..., (2 * a + b) * c:(2 * a + b + 1) * c]
    return out


def probe_flow_expression() -> str:
    """A flow like ``digit_flow`` that the notebook does not hold: a standard normal over LATENT
    numbers, scaled and shifted per dimension by probe arrays, then shaped as images."""
    bijector = (f"{_TFB}.Chain([{_TFB}.Reshape(event_shape_out={PROBE_SHAPE}, "
                f"event_shape_in=({LATENT},)), {_TFB}.Shift(_P.shift), {_TFB}.Scale(_P.scale)])")
    base = f"{_TFD}.MultivariateNormalDiag(loc=_np.zeros({LATENT}, _np.float32))"
    return f"{_TFD}.TransformedDistribution({base}, {bijector})"


def probe_bijector_expression() -> str:
    """A bijector like ``digit_glow`` (flat latent to image) that the notebook does not hold, and
    nonlinear, so that walking in latent space differs from fading the pixels."""
    return (f"{_TFB}.Chain([{_TFB}.Reshape(event_shape_out={PROBE_SHAPE}, "
            f"event_shape_in=({LATENT},)), {_TFB}.Sigmoid(), {_TFB}.Shift(_P.shift), "
            f"{_TFB}.Scale(_P.scale)])")



def scalar(ev, key: str) -> float:
    """A collected number (evidence arrays come back at least 1-D); fails unless it is one number."""
    value = ev.array(key)
    checks.expect(value.size == 1, f"`{ev.task.collect[key]}` should give one number, but gave "
                                   f"an array of shape {value.shape}.")
    return float(value.ravel()[0])


def standard_normal_log_prob(z: np.ndarray) -> np.ndarray:
    return -0.5 * np.sum(z**2, axis=-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


# --- the judges -----------------------------------------------------------------------------------

def judge_squeeze(ev):
    for key, probe in (("squeezed1", "x1"), ("squeezed2", "x2")):
        x = ev.probes[probe]
        squeezed = ev.array(key)
        n, h, w, c = x.shape
        checks.expect_shape(squeezed, (n, h // 2, w // 2, 4 * c), f"squeeze(x) for x of shape {x.shape}")
        checks.expect_close(squeezed, space_to_depth(x), f"squeeze(x) for x of shape {x.shape}", atol=0)
    y = ev.probes["y"]
    checks.expect_close(ev.array("unsqueezed"), depth_to_space(y), f"unsqueeze(y) for y of shape {y.shape}",
                        atol=0)
    checks.expect_close(ev.array("round_trip"), ev.probes["x2"], "unsqueeze(squeeze(x))", atol=0)


def judge_lu_conv(ev):
    ev.expect_kind("kind", "conv", "ScaleMatvecLU")
    pixels = ev.probes["pixels"].astype(np.float64)
    checks.expect_close(ev.array("forward"), pixels @ W.T,
                        "conv.forward(x), which should be W times each pixel's channels", atol=1e-4)
    checks.expect_close(ev.array("inverse"), pixels @ np.linalg.inv(W).T,
                        "conv.inverse(x), which should be W⁻¹ times each pixel's channels", atol=1e-4)
    log_abs_det = np.linalg.slogdet(W)[1]
    pixel_count = pixels.shape[1] * pixels.shape[2]
    checks.expect_close(np.ravel(ev.array("log_det"))[:1], [pixel_count * log_abs_det],
                        "conv.forward_log_det_jacobian(x, event_ndims=3)", atol=1e-4)
    checks.expect_close(scalar(ev, "log_det_W"), 15 * log_abs_det,
                        "conv_log_det(lower_upper, 3, 5), which should be 15 log|det W|", atol=1e-4)
    lu = ev.probes["packed_lu"].astype(np.float64)
    height, width = int(ev.probes["height"][0]), int(ev.probes["width"][0])
    expected = height * width * np.sum(np.log(np.abs(np.diag(lu))))
    checks.expect_close(scalar(ev, "log_det_other"), expected,
                        f"conv_log_det for another packed LU matrix (6x6) on a {height}x{width} image",
                        atol=1e-3)


def first_difference(found, expected: list[str]) -> str:
    """Where a list of variable shapes first departs from the reference's, in a few words."""
    if not isinstance(found, list):
        return "the grader could not read their shapes"
    for index, (ours, theirs) in enumerate(zip(found, expected, strict=False)):
        if ours != theirs:
            return f"variable {index} has shape {ours}, where the lab's Glow has {theirs}"
    return f"there are {len(found)} of them, where the lab's Glow has {len(expected)}"


@cache
def reference_glow_facts(image_shape: tuple) -> dict:
    """What the lab's configuration gives for images of ``image_shape``."""
    bijector, flow = reference.make_glow(image_shape)
    return {"splits": [[int(n) for n in level] for level in bijector.blockwise_splits],
            "trainable": [str(tuple(v.shape)) for v in flow.trainable_variables]}


def judge_build_glow(ev):
    ev.expect_kind("glow_kind", "digit_glow", "Glow")
    ev.expect_kind("flow_kind", "digit_flow", "Distribution")
    checks.expect(ev["is_transformed"] is True,
                  "digit_flow should be a tfd.TransformedDistribution of a base and digit_glow.")
    checks.expect(ev["same_bijector"] is True, "digit_flow should transform by digit_glow itself.")
    event_shape = ev.array("event_shape").tolist()
    checks.expect(event_shape == list(DIGIT_SHAPE),
                  f"digit_flow.event_shape should be {list(DIGIT_SHAPE)}, is {event_shape}.")
    splits = ev.array("splits").astype(int).tolist()
    checks.expect(splits == [[8, 0, 8], [2, 2, 0]],
                  f"digit_glow's splits are {splits}; 2 blocks on 8x8x1 images give "
                  "[[8, 0, 8], [2, 2, 0]]. Check num_glow_blocks.")
    for shape, prefix in ((DIGIT_SHAPE, "digit"), (COLOUR_SHAPE, "colour")):
        facts = reference_glow_facts(shape)
        trainable = ev[f"{prefix}_trainable"]
        checks.expect(isinstance(trainable, list) and trainable == facts["trainable"],
                      f"For images of shape {shape}, the flow's trainable variables differ from the "
                      f"lab's configuration (2 blocks of 4 steps, coupling networks of 128 channels, "
                      f"tfb.GlowDefaultExitNetwork): {first_difference(trainable, facts['trainable'])}.")
    ev.expect_kind("colour_glow_kind", "build_glow((8, 8, 3))[0]", "Glow")
    checks.expect(ev["colour_same_bijector"] is True,
                  "For images of shape (8, 8, 3), the flow should transform by the Glow built with it.")
    checks.expect(ev.array("colour_event_shape").tolist() == list(COLOUR_SHAPE),
                  f"build_glow((8, 8, 3)) gives a flow with event shape "
                  f"{ev.array('colour_event_shape').tolist()}.")
    colour_splits = ev.array("colour_splits").astype(int).tolist()
    checks.expect(colour_splits == reference_glow_facts(COLOUR_SHAPE)["splits"],
                  f"build_glow((8, 8, 3)) has the splits {colour_splits}; the lab's configuration has "
                  f"{reference_glow_facts(COLOUR_SHAPE)['splits']}.")
    dims = int(np.prod(COLOUR_SHAPE))
    checks.expect(ev.array("colour_base_event_shape").tolist() == [dims],
                  f"For images of shape (8, 8, 3) the base should be over {dims} numbers, but its "
                  f"event shape is {ev.array('colour_base_event_shape').tolist()}.")
    latent = ev.probes["latent3"].astype(np.float64)
    checks.expect_close(ev.array("colour_base_log_prob"), standard_normal_log_prob(latent),
                        "the base's log_prob, which should be a standard normal's", atol=1e-3)


@cache
def held_out_digits() -> tuple[np.ndarray, int]:
    """The course's test digits, dequantized with the lab's fixed noise, and their levels."""
    split = data.digits()
    return glow.dequantized(split, "test"), split.levels


def judge_trained_glow(ev):
    checks.expect(ev.array("event_shape").tolist() == list(DIGIT_SHAPE),
                  f"digit_flow.event_shape should be {list(DIGIT_SHAPE)}.")
    weights = ev["weights"]
    checks.expect(isinstance(weights, list), "the grader could not read digit_glow's variables.")
    try:
        _, flow = reference.glow_with_weights(weights, DIGIT_SHAPE)
    except ValueError as error:
        raise AssertionError(f"digit_glow does not fit the lab's Glow: {error}.") from None
    x, levels = held_out_digits()
    dims = int(np.prod(DIGIT_SHAPE))
    bpd = reference.bits_per_dim(reference.log_prob(flow, x), dims, levels)
    ev.below(bpd, BPD_LIMIT, "the held-out bits/dim of digit_flow (computed by the grader)")
    digit_bpd = scalar(ev, "digit_bpd")
    checks.expect(abs(digit_bpd - bpd) < 0.01,
                  f"digit_bpd = {digit_bpd:.4f}, but the grader's evaluation of your trained model "
                  f"gives {bpd:.4f}.")
    epochs = budgets.budget("lab04_glow_digits").epochs
    trained = int(scalar(ev, "epochs"))
    checks.expect(trained >= epochs or ev["stopped_early"] is True,
                  f"history shows {trained} epochs; train for the whole budget ({epochs}).")


def judge_bits_per_dim(ev):
    images, levels = ev.probes["images"], int(ev.probes["levels"][0])
    dims = int(np.prod(images.shape[1:]))
    checks.expect_close(scalar(ev, "uniform"), math.log2(levels),
                        f"the bits/dim of a uniform model of {levels}-level images, which should be "
                        f"log2({levels})", atol=1e-4)
    x = density.dequantize(images, levels, 0).astype(np.float64)
    loc, spread = ev.probes["loc"].astype(np.float64), ev.probes["spread"].astype(np.float64)
    log_probs = np.sum(-0.5 * ((x - loc) / spread) ** 2 - np.log(spread) - 0.5 * math.log(2 * math.pi),
                       axis=(1, 2, 3))
    expected = reference.bits_per_dim(log_probs, dims, levels)
    checks.expect_close(scalar(ev, "gaussian"), expected,
                        f"bits_per_dim_of for a Gaussian model of {len(images)} images of shape "
                        f"{images.shape[1:]} with {levels} levels", atol=1e-3)


def judge_temperature(ev):
    digits = ev.array("digit_samples")
    checks.expect_shape(digits, (200, *DIGIT_SHAPE), "sample_at_temperature(digit_flow, 200, 0.6)")
    checks.expect(np.all(np.isfinite(digits)), "The samples of digit_flow contain NaN or infinite values.")
    shift, scale = ev.probes["shift"].astype(np.float64), ev.probes["scale"].astype(np.float64)
    for key in ("cold", "warm"):
        temperature = float(ev.probes[key][0])
        name = f"sample_at_temperature(flow, {SAMPLES}, {temperature:.3f}) for another flow"
        images = ev.array(key)
        checks.expect_shape(images, (SAMPLES, *PROBE_SHAPE), name)
        checks.expect(np.all(np.isfinite(images)), f"{name} contains NaN or infinite values.")
        latents = (images.reshape(SAMPLES, LATENT) - shift) / scale
        spread, centre = float(latents.std()), float(latents.mean())
        checks.expect(abs(spread - temperature) < 0.05 * max(temperature, 0.5),
                      f"Mapped back to that flow's latent space, {name} has standard deviation "
                      f"{spread:.3f}; it should be {temperature:.3f}. Scale the base, not the images.")
        checks.expect(abs(centre) < 0.05, f"Mapped back to the latent space, {name} has mean "
                                          f"{centre:.3f}, not 0.")
        per_dimension = latents.std(axis=0)
        worst = int(np.argmax(np.abs(per_dimension - temperature)))
        checks.expect(abs(per_dimension[worst] - temperature) < 0.15 * temperature,
                      f"Mapped back to the latent space, dimension {worst} of {name} has standard "
                      f"deviation {per_dimension[worst]:.3f}, not {temperature:.3f}.")


def probe_interpolation(ev, a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    shift, scale = ev.probes["shift"].astype(np.float64), ev.probes["scale"].astype(np.float64)

    def inverse(image):
        p = image.astype(np.float64).reshape(-1)
        return (np.log(p) - np.log1p(-p) - shift) / scale

    z_a, z_b = inverse(a), inverse(b)
    weights = np.linspace(0.0, 1.0, steps)[:, None]
    path = (1.0 - weights) * z_a + weights * z_b
    return (1.0 / (1.0 + np.exp(-(path * scale + shift)))).reshape(steps, *PROBE_SHAPE)


def judge_interpolate(ev):
    row = ev.array("digit_row")
    checks.expect_shape(row, (8, *DIGIT_SHAPE), "interpolate(digit_glow, a, b, 8)")
    checks.expect_close(row[0], ev.probes["digit_a"], "the first image of interpolate(digit_glow, a, b, 8)",
                        atol=1e-3)
    checks.expect_close(row[-1], ev.probes["digit_b"], "the last image of interpolate(digit_glow, a, b, 8)",
                        atol=1e-3)
    ends = ev.probes["ends"]
    for key, steps_key, (first, last) in (("row1", "steps1", (0, 1)), ("row2", "steps2", (2, 3))):
        steps = int(ev.probes[steps_key][0])
        expected = probe_interpolation(ev, ends[first], ends[last], steps)
        checks.expect_close(ev.array(key), expected,
                            f"interpolate(bijector, a, b, {steps}) for another (nonlinear) bijector",
                            atol=1e-3)


def _build_glow_collect() -> dict:
    colour = "_colour"
    return {
        "glow_kind": "_kind(digit_glow)", "flow_kind": "_kind(digit_flow)",
        "is_transformed": "hasattr(digit_flow, 'bijector') and hasattr(digit_flow, 'distribution')",
        "same_bijector": "digit_flow.bijector is digit_glow",
        "event_shape": "list(digit_flow.event_shape)",
        "splits": "[list(level) for level in digit_glow.blockwise_splits]",
        "digit_trainable": "[str(tuple(v.shape)) for v in digit_flow.trainable_variables]",
        # build_glow on images the notebook never builds; := keeps the one build for the next keys.
        "colour_glow_kind": f"_kind(({colour} := build_glow({COLOUR_SHAPE}))[0])",
        "colour_same_bijector": f"{colour}[1].bijector is {colour}[0]",
        "colour_event_shape": f"list({colour}[1].event_shape)",
        "colour_splits": f"[list(level) for level in {colour}[0].blockwise_splits]",
        "colour_trainable": f"[str(tuple(v.shape)) for v in {colour}[1].trainable_variables]",
        "colour_base_event_shape": f"list({colour}[1].distribution.event_shape)",
        "colour_base_log_prob": f"{colour}[1].distribution.log_prob(_P.latent3)",
    }


_BPD_SHAPE = f"{BPD_SHAPE}"
TASKS = [
    Task("squeeze_test", {"squeezed1": "squeeze(_P.x1)", "squeezed2": "squeeze(_P.x2)",
                          "unsqueezed": "unsqueeze(_P.y)", "round_trip": "unsqueeze(squeeze(_P.x2))"},
         judge_squeeze),
    Task("lu_conv_test", {"kind": "_kind(conv)", "forward": "conv.forward(_P.pixels)",
                          "inverse": "conv.inverse(_P.pixels)",
                          "log_det": "conv.forward_log_det_jacobian(_P.pixels, event_ndims=3)",
                          "log_det_W": "conv_log_det(lower_upper, 3, 5)",
                          "log_det_other": "conv_log_det(_P.packed_lu, int(_P.height[0]), int(_P.width[0]))"},
         judge_lu_conv),
    Task("build_glow_test", _build_glow_collect(), judge_build_glow),
    Task("bits_per_dim_test",
         {"uniform": f"bits_per_dim_of({_TFD}.Independent({_TFD}.Uniform(_np.zeros({_BPD_SHAPE}, "
                     f"_np.float32), _np.ones({_BPD_SHAPE}, _np.float32)), 3), _P.images, int(_P.levels[0]))",
          "gaussian": f"bits_per_dim_of({_TFD}.Independent({_TFD}.Normal(_P.loc, _P.spread), 3), "
                      "_P.images, int(_P.levels[0]))"},
         judge_bits_per_dim),
    Task("trained_glow_test", {"event_shape": "list(digit_flow.event_shape)",
                               "weights": "_weights(digit_flow.bijector)",
                               "digit_bpd": "float(digit_bpd)",
                               "epochs": "len(history.loss)",
                               "stopped_early": "bool(history.stopped_early)"},
         judge_trained_glow),
    Task("temperature_test",
         {"digit_samples": "sample_at_temperature(digit_flow, 200, 0.6)",
          "cold": f"sample_at_temperature((_flow := {probe_flow_expression()}), {SAMPLES}, "
                  "float(_P.cold[0]))",
          "warm": f"sample_at_temperature(_flow, {SAMPLES}, float(_P.warm[0]))"},
         judge_temperature),
    Task("interpolate_test",
         {"digit_row": "interpolate(digit_glow, _P.digit_a, _P.digit_b, 8)",
          "row1": f"interpolate((_bijector := {probe_bijector_expression()}), _P.ends[0], _P.ends[1], "
                  "int(_P.steps1[0]))",
          "row2": "interpolate(_bijector, _P.ends[2], _P.ends[3], int(_P.steps2[0]))"},
         judge_interpolate),
]
