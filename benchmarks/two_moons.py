"""Two-moons benchmark for lab 02: held-out NLL of the flows, a tuned Gaussian mixture and the truth.

Trains on make_moons(10000, noise=0.05, random_state=0) and evaluates on make_moons(5000,
noise=0.05, random_state=1), so figures compare across runs and libraries. Uses the active budget
(``FLOWLAB_BUDGET``, full by default) and seed (``FLOWLAB_SEED``).

    .venv/bin/python benchmarks/two_moons.py [--models sheet,improved,gmm]
"""

import argparse
import time

from flowlab import baselines, budgets, data, density, maf, training
from flowlab.tfenv import tfd

MODELS = ("sheet", "improved", "gmm")


def sheet_model(train, test) -> dict:
    """The lab sheet's flow: 3 x (MAF + Permute), Adam at 1e-3, batch 32, constant rate."""
    flow = tfd.TransformedDistribution(maf.standard_normal(2), maf.maf_stack(3))
    budget = budgets.budget("lab02_maf")
    start, cpu = time.perf_counter(), time.process_time()
    training.fit_by_likelihood(flow, train, budget)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"nll": training.held_out_nll(flow, test), "seconds": seconds, "cpu": cpu,
            "setting": f"{budget.epochs} epochs, batch {budget.batch_size}"}


def improved_model(train, test) -> dict:
    """MAF + Permute layers with bounded log-scales on standardized inputs; batch 256, cosine Adam."""
    flow = maf.improved_flow(train, layers=maf.IMPROVED_LAYERS)
    budget = budgets.budget("lab02_maf_improved")
    start, cpu = time.perf_counter(), time.process_time()
    training.fit_by_likelihood(flow, train, budget, learning_rate=maf.IMPROVED_LEARNING_RATE,
                               schedule="cosine")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"nll": training.held_out_nll(flow, test), "seconds": seconds, "cpu": cpu,
            "setting": f"{budget.epochs} epochs, batch {budget.batch_size}, cosine"}


def mixture(train, test) -> dict:
    """The fair GaussianMixture: size and EM stopping chosen on the last 2000 training points."""
    start, cpu = time.perf_counter(), time.process_time()
    tuned = baselines.fair_mixture(train, budgets.budget("moons_mixture"), seed=budgets.seed())
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"nll": tuned.nll(test), "seconds": seconds, "cpu": cpu, "setting": tuned.setting}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated subset of {', '.join(MODELS)}")
    chosen = parser.parse_args().models.split(",")
    unknown = set(chosen) - set(MODELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {', '.join(MODELS)}")

    seed = training.set_seed()
    train, test = data.moons_train(), data.moons_test()
    true_nll = density.moons_true_nll(test)
    print(f"two moons, noise 0.05: train 10000 (seed 0), test 5000 (seed 1); "
          f"budget {budgets.budget_name()}, seed {seed}")
    # Wall seconds are what a reader waits; CPU seconds (all threads) show the work when the
    # machine is shared.
    print(f"{'model':44s} {'NLL':>6s} {'gap':>6s} {'wall s':>7s} {'cpu s':>7s}  setting")
    print(f"{'true density (numerical integration)':44s} {true_nll:6.3f} {0.0:6.3f}")
    runs = {"sheet": ("sheet: 3 x (MAF + Permute)", sheet_model),
            "improved": (f"improved: {maf.IMPROVED_LAYERS} x (MAF + Permute), standardized",
                         improved_model),
            "gmm": ("GaussianMixture, tuned on validation", mixture)}
    for key in chosen:
        name, run = runs[key]
        result = run(train, test)
        print(f"{name:44s} {result['nll']:6.3f} {result['nll'] - true_nll:6.3f} "
              f"{result['seconds']:7.1f} {result['cpu']:7.1f}  {result['setting']}", flush=True)


if __name__ == "__main__":
    main()
