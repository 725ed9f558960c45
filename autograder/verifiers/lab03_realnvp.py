"""Trusted checks of lab 03 (RealNVP): judged outside the student's kernel on fresh probes.

Coupling maps are called with a shift-and-log-scale function whose coefficients are drawn per run.
Networks and chains get weights drawn per run, and their outputs are compared with the reference
architecture (:mod:`realnvp_reference`, NumPy) carrying the same weights. Trained flows are
rebuilt here from their weights; their held-out NLL and bits/dim are computed here, on data the
verifier loads, once the rebuild is shown to reproduce the student's own log-densities.
"""


import numpy as np

from flowlab import checks, data, images
from flowlab.course.grading.verifier import Task, load_reference

reference = load_reference("realnvp")

# Grading budget, `flowlab audit` of 2026-12-03, reference worst over seeds 0-4: moons 1.009
# nats (one epoch ~1.55, the closest wrong answer 1.847), fresh moons 1.007; digits 2.366 and
# fresh digits 2.360 bits/dim.
MOONS_LIMIT = 1.2  # nats, held-out set
FRESH_MOONS_LIMIT = 1.25  # nats, a two-moons sample drawn for this grading run
DIGITS_LIMIT = 2.55  # bits/dim, the test split with the course's fixed noise
FRESH_DIGITS_LIMIT = 2.6  # bits/dim, the test split dequantized with noise drawn for this run
LEVELS = 17
COUPLING_CASES = ((3, 1), (5, 2), (5, 3))  # (dims, num_masked)
CHAIN_DIMS, CHAIN_LAYERS = 5, 3

# A shift-and-log-scale function with coefficients drawn per run: shift = x1 A + a,
# log_scale = tanh(x1 B + b), sliced to the widths the coupling asks for.
_TF = "__import__('tensorflow')"
PROBE_FN = (f"(lambda x1, n: ({_TF}.matmul(x1, _P.fn_a[:x1.shape[-1], :n]) + _P.fn_a0[:n], "
            f"{_TF}.tanh({_TF}.matmul(x1, _P.fn_b[:x1.shape[-1], :n]) + _P.fn_b0[:n])))")

# The Keras network inside each coupling of a chain: the shift-and-log-scale function itself, the
# object of a bound method, or what a lambda binds (default argument, closure) or a partial holds.
_FN_PARTS = ("[f, getattr(f, '__self__', None), *(getattr(f, '__defaults__', None) or ()), "
             "*[c.cell_contents for c in (getattr(f, '__closure__', None) or ())], "
             "*getattr(f, 'args', ()), *getattr(f, 'keywords', dict()).values()]")
NETWORKS_OF = ("[next((o for o in " + _FN_PARTS + " if hasattr(o, 'get_weights')), None) "
               "for f in [b._shift_and_log_scale_fn for b in {chain}.bijectors "
               "if type(b).__name__ == 'RealNVP']]")
# Weights drawn per run, per network i and weight j, from the run's seed (the judge redraws them).
RANDOMIZE = ("[n.set_weights([_np.random.default_rng([int(_P.seed[0]), {tag}, i, j]).normal("
             "scale=(w.shape[0] ** -0.5 if w.ndim == 2 else 0.5), size=w.shape) "
             "for j, w in enumerate(n.get_weights())]) for i, n in enumerate({networks})] and None")


def probes(rng):
    sizes = np.array([rng.integers(2, 6), rng.integers(1, 5), rng.integers(6, 21)])
    chain_hidden = int(rng.integers(4, 13))
    chain_perms = np.stack([rng.permutation(CHAIN_DIMS) for _ in range(CHAIN_LAYERS - 1)])
    moons = data.two_moons(256, random_state=int(rng.integers(1000, 10**6)))
    split = data.digits()
    digits_x = np.concatenate([split.test[:24], split.validation[:8]])
    digits_x = ((digits_x + rng.uniform(size=digits_x.shape)) / LEVELS).reshape(len(digits_x), -1)
    return {
        "seed": np.array([rng.integers(0, 2**31)]),
        "fn_a": rng.normal(size=(6, 6)).astype(np.float32),
        "fn_a0": rng.normal(size=6).astype(np.float32),
        "fn_b": rng.normal(size=(6, 6)).astype(np.float32),
        "fn_b0": rng.normal(size=6).astype(np.float32),
        "x3": (1.5 * rng.standard_normal((12, 3))).astype(np.float32),
        "x5": (1.5 * rng.standard_normal((12, 5))).astype(np.float32),
        "y3": (1.5 * rng.standard_normal((12, 3))).astype(np.float32),
        "y5": (1.5 * rng.standard_normal((12, 5))).astype(np.float32),
        "net_sizes": sizes,
        "net_x": (2.0 * rng.standard_normal((64, sizes[0]))).astype(np.float32),
        "chain_hidden": np.array([chain_hidden]),
        "chain_perms": chain_perms,
        "chain_x": (1.5 * rng.standard_normal((32, CHAIN_DIMS))).astype(np.float32),
        "chain_y": (1.5 * rng.standard_normal((32, CHAIN_DIMS))).astype(np.float32),
        "chain4_x": (1.5 * rng.standard_normal((32, 4))).astype(np.float32),
        "moons_x": np.concatenate([moons, 1.5 * rng.standard_normal((64, 2))]).astype(np.float32),
        "digits_y": images.logit_transform(digits_x)[0],
        "pixels": rng.integers(0, LEVELS, size=(400, 8, 8, 1)),
        "noise_seed": np.array([rng.integers(0, 2**31), rng.integers(0, 2**31)]),
        "moons_seed": np.array([rng.integers(1000, 10**6)]),
        "bits_nll": rng.uniform(-300, 300, size=4),
        "bits_terms": rng.normal(scale=40, size=(4, 6)),
        "bits_lengths": rng.integers(1, 7, size=4),
        "bits_dims": np.array([64, 192, 1, int(rng.integers(2, 1000))]),
        "bits_levels": np.array([17, 256, 2, int(rng.integers(3, 300))]),
    }


# --- Task 1: the coupling layer ------------------------------------------------------------------

def _probe_fn(ev, x1, units):
    k = x1.shape[-1]
    p = {name: ev.probes[name].astype(np.float64) for name in ("fn_a", "fn_a0", "fn_b", "fn_b0")}
    return x1 @ p["fn_a"][:k, :units] + p["fn_a0"][:units], np.tanh(x1 @ p["fn_b"][:k, :units]
                                                                      + p["fn_b0"][:units])


def _case_key(kind, dims, kept):
    return f"{kind}_{dims}d_{kept}"


def _coupling_items(function, probe):
    return {_case_key(function, dims, kept): f"{function}(_P.{probe}{dims}, {PROBE_FN}, {kept})"
            for dims, kept in COUPLING_CASES}


def judge_coupling_forward(ev):
    for dims, kept in COUPLING_CASES:
        x = ev.probes[f"x{dims}"].astype(np.float64)
        shift, log_scale = _probe_fn(ev, x[:, :kept], dims - kept)
        expected = np.concatenate([x[:, :kept], x[:, kept:] * np.exp(log_scale) + shift], axis=1)
        checks.expect_close(ev.array(_case_key("coupling_forward", dims, kept)), expected,
                            f"coupling_forward in {dims} dimensions with num_masked={kept}",
                            atol=1e-4, rtol=1e-4)


def judge_coupling_inverse(ev):
    for dims, kept in COUPLING_CASES:
        y = ev.probes[f"y{dims}"].astype(np.float64)
        shift, log_scale = _probe_fn(ev, y[:, :kept], dims - kept)
        expected = np.concatenate([y[:, :kept], (y[:, kept:] - shift) * np.exp(-log_scale)], axis=1)
        checks.expect_close(ev.array(_case_key("coupling_inverse", dims, kept)), expected,
                            f"coupling_inverse in {dims} dimensions with num_masked={kept}",
                            atol=1e-4, rtol=1e-4)
        checks.expect_close(ev.array(_case_key("round_trip", dims, kept)),
                            ev.probes[f"x{dims}"].astype(np.float64),
                            f"coupling_inverse(coupling_forward(x)) in {dims} dimensions with "
                            f"num_masked={kept}", atol=1e-4, rtol=1e-4)


def judge_coupling_log_det(ev):
    for dims, kept in COUPLING_CASES:
        x = ev.probes[f"x{dims}"].astype(np.float64)
        _, log_scale = _probe_fn(ev, x[:, :kept], dims - kept)
        checks.expect_close(ev.array(_case_key("coupling_log_det", dims, kept)), log_scale.sum(axis=1),
                            f"coupling_log_det in {dims} dimensions with num_masked={kept} "
                            "(one value per row)", atol=1e-4, rtol=1e-4)


# --- Task 2: the network -------------------------------------------------------------------------

def _arrays(value, what: str) -> list[np.ndarray]:
    """A collected list of arrays (an array of equal-shaped rows counts as its rows)."""
    if isinstance(value, np.ndarray):
        return [np.asarray(v, dtype=np.float64) for v in value]
    if isinstance(value, list) and all(isinstance(v, np.ndarray) for v in value):
        return [v.astype(np.float64) for v in value]
    raise AssertionError(f"{what} should be a list of numeric arrays.")


def _redrawn(weights, seed: int, tag: int, index: int) -> list[np.ndarray]:
    """The weights RANDOMIZE gives network ``index`` with these shapes."""
    return [np.random.default_rng([seed, tag, index, j]).normal(
        scale=(w.shape[0] ** -0.5 if w.ndim == 2 else 0.5), size=w.shape) for j, w in enumerate(weights)]


def expect_randomized(weights, seed, tag, index, name):
    expected = _redrawn(weights, seed, tag, index)
    checks.expect(all(np.allclose(w, e, atol=1e-5) for w, e in zip(weights, expected, strict=True)),
                  f"{name} does not hold the weights the grader gave it: is it the network that "
                  "is really called? (Each coupling needs its own network: the lambda trap?)")


def expect_layout(weights, in_units, out_units, hidden, name):
    layouts = reference.layouts(weights, in_units, out_units, hidden)
    checks.expect(layouts, f"{name} has weights of shapes {[w.shape for w in weights]}; the reference "
                  f"with {in_units} inputs, {hidden} hidden units and {out_units} outputs has "
                  f"{reference.weight_shapes(in_units, out_units, hidden)} (Dense {hidden} ReLU, "
                  f"Dense {hidden} ReLU, Dense {2 * out_units}; two Dense heads of {out_units} "
                  "are fine too).")
    return layouts


def judge_network(ev):
    in_units, out_units, hidden = (int(v) for v in ev.probes["net_sizes"])
    name = f"shift_and_log_scale_network({in_units}, {out_units}, hidden_units={hidden})"
    found = [k.rsplit(".", 1)[-1] for k in ev.kind("kind")]
    checks.expect("Model" in found, f"{name} should be a tf.keras.Model, but it is a {found[0]}.")
    outputs = _arrays(ev["initial_outputs"], f"the outputs of {name}")
    checks.expect(len(outputs) == 2, f"the network should return [shift, log_scale], got {len(outputs)} "
                  "outputs.")
    points = len(ev.probes["net_x"])
    for output, part in zip(outputs, ("shift", "log_scale"), strict=True):
        checks.expect_shape(output, (points, out_units), f"{part} for {points} inputs and "
                            f"output_units={out_units}")
        checks.expect_close(output, np.zeros_like(output), f"{part} of the untrained network (it "
                            "should start at zero: last layer initialized with zeros)", atol=1e-6)
    initial = _arrays(ev["initial_weights"], f"the weights of {name}")
    layouts = expect_layout(initial, in_units, out_units, hidden, name)
    first, _, second, _, last, last_bias = layouts[0]
    checks.expect(np.abs(first).max() > 0 and np.abs(second).max() > 0,
                  "the hidden layers start with all-zero weights, so they can never learn (keep "
                  "Keras's random initialisation there; only the last layer starts at zero).")
    checks.expect(not np.any(last) and not np.any(last_bias),
                  "the last layer should start with zero weights and biases.")
    seed = int(ev.probes["seed"][0])
    weights = _arrays(ev["weights"], f"the weights of {name}")
    expect_randomized(weights, seed, 0, 0, name)
    shift, log_scale = _arrays(ev["outputs"], f"the outputs of {name}")
    x = ev.probes["net_x"].astype(np.float64)
    mismatch = None
    for layout in reference.layouts(weights, in_units, out_units, hidden):
        want_shift, want_log_scale = reference.network(layout, x)
        if (np.allclose(shift, want_shift, atol=1e-4, rtol=1e-4)
                and np.allclose(log_scale, want_log_scale, atol=1e-4, rtol=1e-4)):
            return
        mismatch = np.abs(shift - want_shift).max(), np.abs(log_scale - want_log_scale).max()
    raise AssertionError(
        f"with random weights, {name} computes something else than the reference network with the "
        f"same weights (two Dense layers with ReLU, a linear Dense layer, shift as it is and tanh "
        f"of the log-scale): the largest differences are {mismatch[0]:.3g} in shift and "
        f"{mismatch[1]:.3g} in log_scale. Check the activations and which outputs go through tanh.")


NETWORK = ("shift_and_log_scale_network(*[int(v) for v in _P.net_sizes[:2]], "
           "hidden_units=int(_P.net_sizes[2]))")


# --- Task 3: the chain ---------------------------------------------------------------------------

def _structure_items(prefix, chain, build):
    """Expressions for the bijectors a chain lists, their parameters and their networks' weights
    (the chain is ``build``, kept as ``chain`` for the expressions after these)."""
    networks = f"_{prefix}_networks"
    realnvps = f"[b for b in {chain}.bijectors if type(b).__name__ == 'RealNVP']"
    return {
        f"{prefix}_layers": f"[({chain} := {build}), [type(b).__name__ for b in {chain}.bijectors]][1]",
        f"{prefix}_masked": f"[int(b._num_masked) for b in {realnvps}]",
        f"{prefix}_perms": f"[_np.asarray(b.permutation) for b in {chain}.bijectors "
                           "if type(b).__name__ == 'Permute']",
        f"{prefix}_found": f"[({networks} := {NETWORKS_OF.format(chain=chain)}), "
                           f"[n is not None for n in {networks}]][1]",
    }


def _chain_items(prefix, chain, build, tag):
    """The structure, then random weights put in each network, which networks they are, and the
    weights read back."""
    networks = f"_{prefix}_networks"
    return {**_structure_items(prefix, chain, build),
            f"{prefix}_randomize": RANDOMIZE.format(tag=tag, networks=networks),
            f"{prefix}_ids": f"[id(n) for n in {networks}]",
            f"{prefix}_weights": f"[_weights(n) for n in {networks}]"}


def _structure(ev, prefix, name):
    """The chain's listed bijectors as (kind, parameter) pairs: RealNVP with its network's weights,
    Permute with its order."""
    layers = ev[f"{prefix}_layers"]
    checks.expect(isinstance(layers, list) and all(isinstance(v, str) for v in layers),
                  f"could not list the bijectors of {name}.")
    unknown = sorted(set(layers) - {"RealNVP", "Permute"})
    checks.expect(not unknown, f"{name} should hold only RealNVP couplings and Permutes, but it lists "
                  f"{layers}.")
    found = ev[f"{prefix}_found"]
    checks.expect(all(bool(v) for v in np.atleast_1d(found)),
                  f"the grader could not find the Keras network of every coupling of {name}: pass "
                  "shift_and_log_scale_fn=lambda x1, output_units, net=net: net(x1) (or the network "
                  "itself).")
    masked = [int(v) for v in np.atleast_1d(ev.array(f"{prefix}_masked"))]
    perms = [p.astype(np.int64) for p in _arrays(ev[f"{prefix}_perms"], "the permutations")] \
        if "Permute" in layers else []
    weights = ev[f"{prefix}_weights"]
    weights = [_arrays(w, "a network's weights") for w in (weights if isinstance(weights, list)
                                                            else list(weights))]
    return layers, masked, perms, weights


def _rebuild(layers, masked, perms, weights, dims, hidden, name, swap=False):
    """The listed bijectors, rebuilt with the reference network and the student's weights."""
    rebuilt, couplings, permutes = [], iter(zip(masked, weights, strict=True)), iter(perms)
    for layer in layers:
        if layer == "Permute":
            rebuilt.append(("Permute", next(permutes)))
            continue
        kept, net = next(couplings)
        layouts = expect_layout(net, kept, dims - kept, hidden, f"the network of a coupling of {name}")
        rebuilt.append(("RealNVP", kept, layouts[1] if swap else layouts[0]))
    return rebuilt


def judge_chain(ev):
    seed = int(ev.probes["seed"][0])
    hidden = int(ev.probes["chain_hidden"][0])
    given = [p.tolist() for p in ev.probes["chain_perms"]]
    dims = CHAIN_DIMS
    name = f"realnvp_chain({dims}, {CHAIN_LAYERS}, hidden_units={hidden}, permutations={given})"
    found = [k.rsplit(".", 1)[-1] for k in ev.kind("kind")]
    checks.expect({"Chain", "_Chain"} & set(found), f"{name} should be a tfb.Chain, but it is a "
                  f"{found[0]}.")
    layers, masked, perms, weights = _structure(ev, "chain", name)
    checks.expect(layers.count("RealNVP") == CHAIN_LAYERS,
                  f"{name} should hold {CHAIN_LAYERS} RealNVP couplings; it lists {layers}.")
    checks.expect(layers == (["RealNVP", "Permute"] * CHAIN_LAYERS)[:-1],
                  f"{name} should have a Permute between each pair of couplings; it lists {layers}.")
    checks.expect(all(m == dims // 2 for m in masked),
                  f"each coupling should keep dims // 2 = {dims // 2} coordinates (num_masked); they "
                  f"keep {masked}.")
    orders = [p.tolist() for p in perms]
    checks.expect(orders in (given, given[::-1]),
                  f"{name} should use the permutations it is given, in order; its Permutes hold {orders}.")
    ids = np.atleast_1d(ev.array("chain_ids"))
    checks.expect(len(set(ids.tolist())) == CHAIN_LAYERS,
                  f"the {CHAIN_LAYERS} couplings of {name} call {len(set(ids.tolist()))} distinct "
                  "network(s): each coupling needs its own (the lambda trap?).")
    for index, net in enumerate(weights):
        expect_randomized(net, seed, 1, index, f"the network of coupling {index + 1} of {name}")
    x = ev.probes["chain_x"].astype(np.float64)
    y = ev.probes["chain_y"].astype(np.float64)
    fits = []
    for swap in (False, True):
        rebuilt = _rebuild(layers, masked, perms, weights, dims, hidden, name, swap)
        expected = reference.chain_forward(rebuilt, x)
        fits.append((np.abs(ev.array("forward") - expected[0]).max(), rebuilt, expected))
    _, rebuilt, (forward, log_det) = min(fits, key=lambda fit: fit[0])
    checks.expect_close(ev.array("forward"), forward, f"{name}.forward, with random weights in its "
                        "networks, vs the reference chain with those weights", atol=1e-3, rtol=1e-3)
    checks.expect_close(ev.array("fldj"), log_det, f"{name}.forward_log_det_jacobian", atol=1e-3,
                        rtol=1e-3)
    checks.expect_close(ev.array("inverse"), reference.chain_inverse(rebuilt, y)[0],
                        f"{name}.inverse", atol=1e-3, rtol=1e-3)
    # Without permutations: reversals, so that consecutive couplings transform alternate halves.
    name = "realnvp_chain(4, 3, hidden_units=4)"
    layers, masked, perms, weights = _structure(ev, "default", name)
    orders = [p.tolist() for p in perms]
    checks.expect(layers == (["RealNVP", "Permute"] * 3)[:-1] and orders == [[3, 2, 1, 0]] * 2,
                  f"{name} without permutations should put the reversal [3, 2, 1, 0] between its "
                  f"couplings; it lists {layers} with orders {orders}.")
    for index, net in enumerate(weights):
        expect_randomized(net, seed, 2, index, f"the network of coupling {index + 1} of {name}")
    x = ev.probes["chain4_x"].astype(np.float64)
    forwards = [reference.chain_forward(_rebuild(layers, masked, perms, weights, 4, 4, name, swap), x)[0]
                for swap in (False, True)]
    best = min(forwards, key=lambda forward: np.abs(ev.array("default_forward") - forward).max())
    checks.expect_close(ev.array("default_forward"), best, f"{name}.forward with random weights",
                        atol=1e-3, rtol=1e-3)


CHAIN_BUILD = ("realnvp_chain(5, 3, hidden_units=int(_P.chain_hidden[0]), "
               "permutations=[p.tolist() for p in _P.chain_perms])")


# --- Tasks 4 and 6: trained flows ----------------------------------------------------------------

def _trained_items(prefix, flow):
    """The structure of a trained flow's chain and its networks' weights, as trained."""
    return {**_structure_items(prefix, f"_{prefix}_chain", f"{flow}.bijector"),
            f"{prefix}_weights": f"[_weights(n) for n in _{prefix}_networks]"}


def rebuilt_flow(ev, prefix, name, dims, points, log_prob_key):
    """The student's trained flow, rebuilt here, once it reproduces the student's own log-densities
    on ``points``; which hidden width each network has is read from its weights."""
    layers, masked, perms, weights = _structure(ev, prefix, name)
    checks.expect(layers.count("RealNVP") >= 1, f"{name} holds no RealNVP coupling.")
    hidden = int(weights[0][1].shape[0]) if weights and len(weights[0]) > 1 else 0
    theirs = ev.array(log_prob_key)
    checks.expect_shape(theirs, (len(points),), f"{name}.log_prob of {len(points)} points")
    checks.expect(np.all(np.isfinite(theirs)), f"{name}.log_prob gives NaN or infinite values on "
                  "data-like points: did the training diverge (check the loss and its sign)?")
    best = None
    for swap in (False, True):
        rebuilt = _rebuild(layers, masked, perms, weights, dims, hidden, name, swap)
        ours = reference.flow_log_prob(rebuilt, points)
        gap = np.abs(ours - theirs).max()
        if best is None or gap < best[0]:
            best = gap, rebuilt, ours
    gap, rebuilt, ours = best
    checks.expect(np.allclose(ours, theirs, atol=2e-3, rtol=1e-3),
                  f"{name} could not be rebuilt from its weights as a standard normal base under a "
                  f"chain of RealNVP couplings (reference networks) and Permutes: its log-densities "
                  f"differ by up to {gap:.3g} nats. Build it as the task says.")
    return rebuilt


def judge_moons(ev):
    rebuilt = rebuilt_flow(ev, "moons", "realnvp", 2, ev.probes["moons_x"].astype(np.float64),
                           "moons_log_prob")
    held_out = -reference.flow_log_prob(rebuilt, data.moons_test()).mean()
    ev.below(held_out, MOONS_LIMIT, "the RealNVP's held-out NLL on two moons (nats)")
    fresh = data.two_moons(4000, random_state=int(ev.probes["moons_seed"][0]))
    ev.below(-reference.flow_log_prob(rebuilt, fresh).mean(), FRESH_MOONS_LIMIT,
             "the RealNVP's NLL on a fresh two-moons sample (nats)")


def _digits_bits(rebuilt, pixels, rng):
    x = ((pixels + rng.uniform(size=pixels.shape)) / LEVELS).reshape(len(pixels), -1)
    y, logit_term = images.logit_transform(x)
    nll = -reference.flow_log_prob(rebuilt, y.astype(np.float64)).mean()
    return reference.bits_per_dim_from_logit(nll, logit_term, x.shape[1], LEVELS)


def judge_digits(ev):
    rebuilt = rebuilt_flow(ev, "digits", "realnvp_digits", 64, ev.probes["digits_y"].astype(np.float64),
                           "digits_log_prob")
    test = data.digits().test
    course_noise = np.random.default_rng([0, images.NOISE_SEEDS["test"]])
    ev.below(_digits_bits(rebuilt, test, course_noise), DIGITS_LIMIT,
             "the RealNVP's test bits/dim on the digits")
    fresh_noise = np.random.default_rng([int(v) for v in ev.probes["noise_seed"]])
    ev.below(_digits_bits(rebuilt, test, fresh_noise), FRESH_DIGITS_LIMIT,
             "the RealNVP's test bits/dim on freshly dequantized digits")


# --- Task 5: dequantization ----------------------------------------------------------------------

def used_generator(seed: int) -> np.random.Generator:
    """A generator that has drawn once already, as the kernel's is (see USED_GENERATOR)."""
    generator = np.random.default_rng(seed)
    generator.random()
    return generator


# The generator handed to the student's dequantize has drawn once, so its stream cannot be
# re-created from the seed it was made with (rng.bit_generator.seed_seq.entropy): only code that
# draws from the generator itself matches the reference.
USED_GENERATOR = "(lambda _g: (_g.random(), _g)[1])(_np.random.default_rng({seed}))"


def judge_dequantize(ev):
    pixels = ev.probes["pixels"]
    seed = int(ev.probes["noise_seed"][0])
    x = ev.array("x")
    checks.expect_shape(x, pixels.shape, "dequantize(pixels)")
    checks.expect(x.min() >= 0.0 and x.max() < 1.0,
                  f"dequantized values should lie in [0, 1); they span [{x.min():.3f}, {x.max():.3f}].")
    # float32 rounding may put (k + u) / levels a hair below k / levels when u is tiny.
    checks.expect(np.all(x * LEVELS > pixels - 1e-4) and np.all(x * LEVELS < pixels + 1),
                  "floor(dequantize(pixels) * levels) should give back the pixels: each value k must "
                  "stay in [k, k+1) / levels.")
    fraction = (x * LEVELS - pixels).ravel()
    checks.expect(abs(fraction.mean() - 0.5) < 0.02 and abs(fraction.std() - np.sqrt(1 / 12)) < 0.02,
                  f"the noise within a pixel's cell should be U(0, 1): mean 0.5, sd 0.289; it has mean "
                  f"{fraction.mean():.3f}, sd {fraction.std():.3f}.")
    expected = ((pixels + used_generator(seed).uniform(size=pixels.shape)) / LEVELS)
    checks.expect_close(x, expected.astype(np.float32), "dequantize vs the reference with the same "
                        "generator (one rng.uniform draw per pixel)", atol=1e-6)
    zeros = ev.array("zeros_256")
    checks.expect_shape(zeros, (2, 3), "dequantize(np.zeros((2, 3)), 256, rng)")
    checks.expect(zeros.max() < 1 / 256, "with 256 levels, dequantized zeros should stay below 1/256.")
    checks.expect_close(zeros, used_generator(seed + 1).uniform(size=(2, 3)) / 256,
                        "dequantize(np.zeros((2, 3)), 256, rng)", atol=1e-7)


# --- Task 6: bits per dimension ------------------------------------------------------------------

def judge_bits(ev):
    p = ev.probes
    values = np.atleast_1d(ev.array("values"))
    checks.expect_shape(values, (4,), "the four bits_per_dim values")
    for i, value in enumerate(values):
        term = p["bits_terms"][i, :int(p["bits_lengths"][i])]
        args = (float(p["bits_nll"][i]), term, int(p["bits_dims"][i]), int(p["bits_levels"][i]))
        expected = reference.bits_per_dim_from_logit(*args)
        checks.expect_close(value, expected, f"bits_per_dim({args[0]:.4g}, <{len(term)} logit terms>, "
                            f"{args[2]}, {args[3]})", atol=1e-9, rtol=1e-9)
    checks.expect(ev["is_float"] is True, "bits_per_dim should return a float.")


TASKS = [
    Task("coupling_forward_test", _coupling_items("coupling_forward", "x"), judge_coupling_forward),
    Task("coupling_inverse_test", {
        **_coupling_items("coupling_inverse", "y"),
        **{_case_key("round_trip", dims, kept):
           f"coupling_inverse(coupling_forward(_P.x{dims}, {PROBE_FN}, {kept}), {PROBE_FN}, {kept})"
           for dims, kept in COUPLING_CASES}}, judge_coupling_inverse),
    Task("coupling_log_det_test", _coupling_items("coupling_log_det", "x"), judge_coupling_log_det),
    Task("network_test", {
        "kind": f"_kind(_net := {NETWORK})",
        "initial_outputs": "[_np.asarray(o) for o in _net(_P.net_x)]",
        "initial_weights": "_weights(_net)",
        "randomize": RANDOMIZE.format(tag=0, networks="[_net]"),
        "weights": "_weights(_net)",
        "outputs": "[_np.asarray(o) for o in _net(_P.net_x)]"}, judge_network),
    Task("chain_test", {
        **_chain_items("chain", "_chain", CHAIN_BUILD, 1),
        "kind": "_kind(_chain)",
        "forward": "_chain.forward(_P.chain_x)",
        "fldj": "_chain.forward_log_det_jacobian(_P.chain_x, event_ndims=1)",
        "inverse": "_chain.inverse(_P.chain_y)",
        **_chain_items("default", "_chain4", "realnvp_chain(4, 3, hidden_units=4)", 2),
        "default_forward": "_chain4.forward(_P.chain4_x)"}, judge_chain),
    Task("moons_quality_test", {**_trained_items("moons", "realnvp"),
                                "moons_log_prob": "realnvp.log_prob(_P.moons_x)"}, judge_moons),
    Task("dequantize_test", {
        "x": f"dequantize(_P.pixels, 17, {USED_GENERATOR.format(seed='int(_P.noise_seed[0])')})",
        "zeros_256": "dequantize(_np.zeros((2, 3)), 256, "
                     f"{USED_GENERATOR.format(seed='int(_P.noise_seed[0]) + 1')})"},
         judge_dequantize),
    Task("bits_test", {
        "values": "[bits_per_dim(float(_P.bits_nll[i]), _P.bits_terms[i, :int(_P.bits_lengths[i])], "
                  "int(_P.bits_dims[i]), int(_P.bits_levels[i])) for i in range(4)]",
        "is_float": "isinstance(bits_per_dim(1.0, _np.ones(2), 64, 17), float)"}, judge_bits),
    Task("digits_quality_test", {**_trained_items("digits", "realnvp_digits"),
                                 "digits_log_prob": "realnvp_digits.log_prob(_P.digits_y)"},
         judge_digits),
]
