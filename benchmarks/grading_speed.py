"""How fast ``flowlab grade`` is: N copies of a complete lab submission graded with 1 and 2
workers, with and without the sandbox.

    .venv/bin/python benchmarks/grading_speed.py [--lab lab02_maf] [--copies 20]

Prints the wall time of each run, the speed-up of 2 workers over 1, seconds per submission, and
the sandbox's overhead (2 workers, bubblewrap against no sandbox). The lab's template (release +
gradebook) is generated once, before the timed runs, as a re-run would find it cached. Targets:
speed-up >= 1.7 with 2 workers on 2 cores, < 30 s per lab-02 submission. The load average is
printed too: on a shared machine other people's work slows every run down.
"""

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from flowlab import course
from flowlab.course import submissions
from flowlab.course.grading import batch, sandbox
from flowlab.course.grading.worker import make_template


def default_lab() -> str:
    """lab02_maf when its source, student version and catalog exist, else lab01_bijectors."""
    lab = "lab02_maf"
    ready = (course.source_notebook(lab).is_file() and course.release_notebook(lab).is_file()
             and (course.AUTOGRADER / "catalog" / f"{lab}.toml").is_file())
    return lab if ready else "lab01_bijectors"


def timed_run(lab: str, subs: Path, out: Path, template: Path, workers: int,
              kind: str) -> float:
    """Wall seconds of one ``flowlab grade`` run into a fresh ``out`` seeded with the template."""
    digest = hashlib.sha256(course.source_notebook(lab).read_bytes()).hexdigest()
    shutil.copytree(template, out / ".template" / "course")
    (out / ".template" / "source.sha256").write_text(f"{lab}:{digest}")
    started = time.perf_counter()
    summary = batch.grade(lab, subs, out, batch.Options(workers=workers, sandbox=kind,
                                                         progress=False, export=False))
    seconds = time.perf_counter() - started
    if summary.graded != summary.total:
        raise SystemExit(f"not every copy was graded ({summary.statuses}); see {out}/grades.csv")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", default=None, help="lab to grade (default: lab02_maf if ready)")
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    lab = args.lab or default_lab()
    if args.lab is None and lab != "lab02_maf":
        print("lab02_maf is not ready in this checkout; benchmarking lab01_bijectors instead.")
    chosen = sandbox.detect()
    print(f"lab {lab}, {args.copies} copies of the complete submission, {os.cpu_count()} CPUs, "
          f"sandbox: {chosen.kind}; load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="flowlab-bench-") as tmp:
        tmp = Path(tmp)
        complete = submissions.example_submissions(lab)["complete"]
        subs = tmp / "submissions"
        subs.mkdir()
        for i in range(args.copies):
            nbformat.write(complete, subs / f"s{i + 1:03d}.ipynb")
        started = time.perf_counter()
        template = make_template(lab, course.SOLUTIONS, tmp / "template")
        print(f"template (once per lab and --out): {time.perf_counter() - started:.1f} s", flush=True)
        runs = [("1 worker", 1, chosen.kind), ("2 workers", 2, chosen.kind)]
        if chosen.kind == "bwrap":
            runs.append(("2 workers, no sandbox", 2, "none"))
        seconds = {}
        for name, workers, kind in runs:
            seconds[name] = timed_run(lab, subs, tmp / name.replace(" ", "_").replace(",", ""),
                                      template, workers, kind)
            print(f"{name:>22}: {seconds[name]:7.1f} s wall, "
                  f"{seconds[name] / args.copies:5.1f} s per submission "
                  f"(load average now {os.getloadavg()[0]:.1f})", flush=True)
    speedup = seconds["1 worker"] / seconds["2 workers"]
    print(f"speed-up with 2 workers: {speedup:.2f}x (target >= 1.7)")
    per_submission = seconds["1 worker"] / args.copies
    print(f"seconds per submission, 1 worker: {per_submission:.1f} s (target < 30 s)")
    if "2 workers, no sandbox" in seconds:
        overhead = seconds["2 workers"] / seconds["2 workers, no sandbox"] - 1
        print(f"sandbox overhead (2 workers): {100 * overhead:+.1f}% "
              f"({(seconds['2 workers'] - seconds['2 workers, no sandbox']) / args.copies:+.2f} s "
              "per submission)")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
