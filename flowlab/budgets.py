"""Training budgets and seeds: the one place that says how long each lab trains.

Every lab trains under one of two budgets, chosen by the environment variable ``FLOWLAB_BUDGET``:

* ``full`` (the default): what a self-study reader runs; the lab sheet's settings.
* ``grading``: what the autograder and the test suite run; short enough to grade a class quickly,
  long enough that the reference solution clears every threshold.

``FLOWLAB_SEED`` (default 0) seeds every random generator, so stability checks can vary it.
"""

import os
from dataclasses import dataclass

BUDGET_VARIABLE = "FLOWLAB_BUDGET"
SEED_VARIABLE = "FLOWLAB_SEED"
BUDGET_NAMES = ("full", "grading")


@dataclass(frozen=True)
class Budget:
    """How much one training run of a lab may do."""

    name: str
    epochs: int
    batch_size: int = 32
    steps_per_epoch: int | None = None
    patience: int | None = None


_BUDGETS = {
    # The lab sheet's MAF: batch 32, 80 epochs.
    "lab02_maf": {"full": Budget("full", 80), "grading": Budget("grading", 6)},
    # The improved MAF that closes the gap to the true NLL.
    "lab02_maf_improved": {
        "full": Budget("full", 60, batch_size=256),
        "grading": Budget("grading", 4, batch_size=256),
    },
}


def budget_name() -> str:
    """The active budget name, from ``FLOWLAB_BUDGET``; a clear error for an unknown one."""
    name = os.environ.get(BUDGET_VARIABLE, "full").strip().lower() or "full"
    if name not in BUDGET_NAMES:
        raise ValueError(
            f"{BUDGET_VARIABLE}={name!r} is not a budget; use one of {', '.join(BUDGET_NAMES)}."
        )
    return name


def budget(run: str) -> Budget:
    """The active budget for one named training run, e.g. ``budget("lab02_maf")``."""
    if run not in _BUDGETS:
        raise KeyError(f"No budget named {run!r}; known runs: {', '.join(sorted(_BUDGETS))}.")
    return _BUDGETS[run][budget_name()]




def seed() -> int:
    """The active seed, from ``FLOWLAB_SEED`` (default 0)."""
    raw = os.environ.get(SEED_VARIABLE, "0")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{SEED_VARIABLE}={raw!r} is not an integer.") from None
