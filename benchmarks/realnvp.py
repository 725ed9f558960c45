"""Lab 03's benchmark: RealNVP against MAF, the true density and classical baselines.

Run with ``python benchmarks/realnvp.py`` (full budget unless ``FLOWLAB_BUDGET`` says otherwise).
In one run it prints

* the held-out two-moons NLL of MAF and RealNVP, trained as in the lab, and the true NLL;
* the digits' test bits/dim of RealNVP (early stopping), GaussianMixture and KernelDensity;
* seconds per 10k-sample draw and per 10k-point density evaluation of the two-moons flows.

The notebook's own execution time is measured by the course's notebook benchmarks.
"""

import time

import numpy as np

import flowlab.tfenv  # noqa: F401  (before anything imports TensorFlow)
from flowlab import baselines, budgets, coupling, data, density, images, training
from flowlab.course.grading.verifier import load_reference

reference = load_reference("realnvp")

MOONS_LAYERS = {"MAF": 5, "RealNVP": 6}
DIGITS_LAYERS, DIGITS_HIDDEN = 8, 256
POINTS = 10000


def moons() -> dict:
    train, test = data.moons_train(), data.moons_test()
    flows = {"MAF": coupling.maf_flow(2, MOONS_LAYERS["MAF"]),
             "RealNVP": reference.realnvp_flow(2, MOONS_LAYERS["RealNVP"])}
    runs = {"MAF": "lab03_maf_moons", "RealNVP": "lab03_realnvp_moons"}
    print(f"two moons ({len(train)} train, {len(test)} held out), budget {budgets.budget_name()}")
    print(f"  {'model':<10}{'held-out NLL':>14}{'train s':>10}")
    for name, flow in flows.items():
        start = time.perf_counter()
        training.fit_by_likelihood(flow, train, budgets.budget(runs[name]), learning_rate=2e-3,
                                   schedule="cosine")
        elapsed = time.perf_counter() - start
        print(f"  {name:<10}{training.held_out_nll(flow, test):>14.3f}{elapsed:>10.1f}", flush=True)
    print(f"  {'truth':<10}{density.moons_true_nll(test):>14.3f}")
    return flows


def digits(seed: int) -> None:
    split = data.digits()
    dq = images.dequantize_split(split, seed=seed)
    parts = {part: images.logit_transform(dq.flat(part)) for part in images.PARTS}
    flow = reference.realnvp_flow(dq.dims, DIGITS_LAYERS, DIGITS_HIDDEN,
                                  coupling.random_permutations(dq.dims, DIGITS_LAYERS - 1, seed))
    start = time.perf_counter()
    history = images.fit_early_stopping(flow, parts["train"][0], parts["validation"][0],
                                        budgets.budget("lab03_realnvp_digits"))
    elapsed = time.perf_counter() - start
    scores = {part: reference.flow_bits_per_dim(flow, *parts[part], dq.levels) for part in images.PARTS}
    print(f"digits ({len(split.train)} train, {len(split.validation)} validation, "
          f"{len(split.test)} test), test bits/dim")
    print(f"  {'RealNVP':<17}{scores['test']:>7.3f}   {DIGITS_LAYERS} couplings, best epoch "
          f"{history.best_epoch} of {len(history.history['loss'])}, {elapsed:.0f} s "
          f"(train {scores['train']:.3f}, validation {scores['validation']:.3f})", flush=True)
    for result in baselines.all_baselines(dq, seed=seed):
        print(f"  {result.name:<17}{result.test_bpd:>7.3f}   {result.setting}, "
              f"{result.seconds:.0f} s (validation {result.validation_bpd:.3f})", flush=True)
    print(f"  {'uniform':<17}{np.log2(dq.levels):>7.3f}")


def cost(flows: dict) -> None:
    print(f"two-moons flows, seconds per {POINTS} points (best of 3, after tracing)")
    for row in coupling.cost(flows, points=POINTS):
        print(f"  {row['flow']:<10}density {row['log_prob_seconds']:.4f}   "
              f"sampling {row['sample_seconds']:.4f}")


def main() -> None:
    seed = training.set_seed()
    flows = moons()
    cost(flows)
    digits(seed)


if __name__ == "__main__":
    main()
