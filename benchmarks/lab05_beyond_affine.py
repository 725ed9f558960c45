"""Lab 05's benchmark: the two-moons table of every model of the course, digits bits/dim, and the
spline flow's held-out NLL over several seeds.

Run: .venv/bin/python benchmarks/lab05_beyond_affine.py [--seed 0] [--spline-seeds 0 1 2 3 4]
     [--two-mode-seeds 0 1 2 3 4] [--residual-seeds 0 1 2 3 4]

The models are the lab's own (the reference solutions notebook is the one source of their code), so
the benchmark executes that notebook with the full budget (unless ``FLOWLAB_BUDGET`` says otherwise)
and prints what its table cells print, and its wall time. ``--spline-seeds``, ``--two-mode-seeds``
(the spline couplings on a two-mode base) and ``--residual-seeds`` run, for each seed, only the
cells that one flow's two-moons training needs and print its held-out NLL and training time: those
targets are checked over seeds without retraining everything else.
"""

import argparse
import os
import time

import nbformat
from nbclient import NotebookClient

from flowlab import course

LAB = "lab05_beyond_affine"
TABLE_MARKERS = ("compare.table(", "bits/dim\")", "grid_integral(", "spline_bpd = (",
                 "spline_nll = ", "two_mode_nll = ", "off the moons", "residual_nll = ", "ffjord_nll = ")


def _execute(notebook, seed: int) -> float:
    os.environ.update(course.grading_environment())
    os.environ["FLOWLAB_BUDGET"] = os.environ.get("BENCH_BUDGET", "full")
    os.environ["FLOWLAB_SEED"] = str(seed)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=3600, kernel_name="python3",
                   resources={"metadata": {"path": str(course.source_notebook(LAB).parent)}}
                   ).execute()
    return time.perf_counter() - start


def _printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def full_run(seed: int) -> None:
    notebook = nbformat.read(course.source_notebook(LAB), as_version=4)
    seconds = _execute(notebook, seed)
    print(f"{LAB}, seed {seed}, budget {os.environ['FLOWLAB_BUDGET']}: notebook {seconds:.0f} s")
    for cell in notebook.cells:
        if cell.cell_type == "code" and any(m in cell.source for m in TABLE_MARKERS):
            print(_printed(cell).rstrip(), flush=True)


# What one flow's figure needs: the set-up cell, then the cells from the first holding ``start``
# (None: straight after the set-up) to the one holding ``end``, whose printout is the figure.
SECTIONS = {
    "spline coupling flow": (None, "spline_nll = "),
    "spline couplings on a two-mode base": (None, "two_mode_nll = "),
    "residual flow": ("def spectral_normalize(", "residual_nll = "),
}


def section_only(name: str, seeds: list[int]) -> None:
    """For each seed, run only the cells ``name``'s figure needs and print that figure."""
    start_marker, end_marker = SECTIONS[name]
    source = nbformat.read(course.source_notebook(LAB), as_version=4)
    end = next(i for i, c in enumerate(source.cells) if end_marker in c.source)
    setup = next(i for i, c in enumerate(source.cells) if c.cell_type == "code")
    start = setup + 1 if start_marker is None else next(
        i for i, c in enumerate(source.cells) if start_marker in c.source)
    print(f"{name} on two moons, budget {os.environ.get('BENCH_BUDGET', 'full')}")
    for seed in seeds:
        notebook = nbformat.read(course.source_notebook(LAB), as_version=4)
        notebook.cells = [notebook.cells[setup]] + notebook.cells[start:end + 1]
        _execute(notebook, seed)
        print(f"  seed {seed}: {_printed(notebook.cells[-1]).strip()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spline-seeds", type=int, nargs="*", default=None)
    parser.add_argument("--two-mode-seeds", type=int, nargs="*", default=None)
    parser.add_argument("--residual-seeds", type=int, nargs="*", default=None)
    args = parser.parse_args()
    if args.spline_seeds:
        section_only("spline coupling flow", args.spline_seeds)
    if args.two_mode_seeds:
        section_only("spline couplings on a two-mode base", args.two_mode_seeds)
    if args.residual_seeds:
        section_only("residual flow", args.residual_seeds)
    if not (args.spline_seeds or args.two_mode_seeds or args.residual_seeds):
        full_run(args.seed)


if __name__ == "__main__":
    main()
