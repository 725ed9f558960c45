"""Wall time of each lab: its solutions notebook under both budgets, and one autograde.

Run: .venv/bin/python benchmarks/notebooks.py [--labs lab01_bijectors ...] [--budgets grading full]
Prints one row per lab. The full budget is what a self-study reader runs; the grading budget is
what the autograder and the tests run.
"""

import argparse
import tempfile
import time
from pathlib import Path

import nbformat

from flowlab import course
from flowlab.course import submissions


def execute_seconds(lab: str, budget: str) -> float:
    """Seconds to run ``lab``'s solutions notebook top to bottom under ``budget``; errors abort."""
    return course.run_solutions(lab, budget, timeout=1800)[1]


def autograde_seconds(lab: str) -> tuple[float, float, float]:
    """Seconds to autograde the complete example of ``lab``, and its score out of the total."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        course.generate_release(lab, scratch)
        example = scratch / "complete.ipynb"
        nbformat.write(submissions.example_submissions(lab)["complete"], example)
        start = time.perf_counter()
        scores = course.autograde_one(lab, example, scratch, student="bench")
        return time.perf_counter() - start, sum(scores.values()), submissions.total_points(lab)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", nargs="*", default=course.lab_names())
    parser.add_argument("--budgets", nargs="*", default=["grading", "full"])
    args = parser.parse_args()
    print(f"{'lab':<18}" + "".join(f"{b + ' run (s)':>16}" for b in args.budgets)
          + f"{'autograde (s)':>16}{'score':>12}")
    for lab in args.labs:
        times = [execute_seconds(lab, budget) for budget in args.budgets]
        grade_time, score, total = autograde_seconds(lab)
        print(f"{lab:<18}" + "".join(f"{t:>16.1f}" for t in times)
              + f"{grade_time:>16.1f}{f'{score:g}/{total:g}':>12}", flush=True)


if __name__ == "__main__":
    main()
