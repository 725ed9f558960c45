"""The ``flowlab`` command. Each subcommand is added by one ``add_*`` function below, so commands
can be added without touching the others: write ``add_x(subparsers)`` that registers a parser with
``set_defaults(run=function)``, and list it in :data:`COMMANDS`.
"""

import argparse
import sys
from pathlib import Path

from flowlab.course import commands


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_grade(subparsers) -> None:
    """``flowlab grade LAB SUBMISSIONS --out DIR``."""
    from flowlab.course.grading.intake import DEFAULT_PATTERN
    from flowlab.course.grading.limits import Limits

    defaults = Limits()
    parser = subparsers.add_parser(
        "grade", help="autograde a lab's submissions (parallel, sandboxed, resumable)",
        description="Grade every submission of LAB with nbgrader. SUBMISSIONS is a folder or zip of "
                    "notebooks (student id from the file name, see --pattern) or nbgrader's "
                    "submitted/<student>/<lab>/ layout. See docs/grading.md.")
    parser.add_argument("lab", help="lab name, e.g. lab01_bijectors")
    parser.add_argument("submissions", type=Path, help="folder or zip of submissions")
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder: grades.csv, feedback/, course/ (gradebook), results/")
    parser.add_argument("--workers", type=_positive, default=1, help="students graded at once (1)")
    parser.add_argument("--force", action="store_true",
                        help="re-grade everything, even submissions graded before unchanged")
    parser.add_argument("--shard", help="grade only slice i of N, e.g. 2/8 (see grade-merge)")
    parser.add_argument("--pattern", default=DEFAULT_PATTERN,
                        help="regex with a group (?P<student>...) matched against each file name "
                             f"(default {DEFAULT_PATTERN!r}: the name up to the first '_')")
    parser.add_argument("--source", type=Path, default=None,
                        help="nbgrader source folder holding LAB/LAB.ipynb (default: solutions/)")
    parser.add_argument("--verifiers", type=Path, default=None,
                        help="folder of the labs' trusted checks, LAB.py (default: autograder/verifiers/)")
    parser.add_argument("--cell-timeout", type=_positive, default=defaults.cell_timeout,
                        help=f"seconds per cell ({defaults.cell_timeout})")
    parser.add_argument("--notebook-timeout", type=_positive, default=defaults.notebook_timeout,
                        help=f"seconds per notebook ({defaults.notebook_timeout})")
    parser.add_argument("--memory-mb", type=_positive, default=defaults.memory_mb,
                        help=f"kernel address-space cap in MiB ({defaults.memory_mb})")
    parser.add_argument("--output-chars", type=_positive, default=defaults.output_chars,
                        help=f"characters kept per cell output ({defaults.output_chars})")
    parser.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto",
                        help="auto: bubblewrap if it works, else unsandboxed with a warning")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_grade)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run_grade(args) -> int:
    import signal

    from flowlab import course
    from flowlab.course.grading import batch, shard
    from flowlab.course.grading.limits import Limits

    limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                    memory_mb=args.memory_mb, output_chars=args.output_chars)
    options = batch.Options(workers=args.workers, force=args.force,
                            shard=shard.parse(args.shard) if args.shard else None,
                            pattern=args.pattern, source=args.source or course.SOLUTIONS,
                            verifiers=args.verifiers or course.VERIFIERS,
                            limits=limits, sandbox=args.sandbox, progress=not args.no_progress)
    # Batch systems stop jobs with SIGTERM (Slurm at its time limit): stop as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    summary = batch.grade(args.lab, args.submissions, args.out, options)
    print(summary.text(args.out))
    return 130 if summary.interrupted else 0


def add_grade_merge(subparsers) -> None:
    """``flowlab grade-merge OUT SHARD_OUT...``."""
    parser = subparsers.add_parser(
        "grade-merge", help="merge the --out folders of `flowlab grade --shard` runs into one",
        description="Combine shard results (gradebook, feedback, results) into OUT and write its "
                    "grades.csv.")
    parser.add_argument("out", type=Path, help="merged output folder (created)")
    parser.add_argument("shards", type=Path, nargs="+", help="the shards' --out folders")
    parser.set_defaults(run=run_grade_merge)


def run_grade_merge(args) -> int:
    from flowlab.course.grading import merge

    print(merge.merge(args.out, args.shards))
    return 0


def add_book(subparsers) -> None:
    """``flowlab book [--out DIR] [--budget full|grading]``."""
    from flowlab.course import book

    parser = subparsers.add_parser(
        "book", help="execute every lab and render the self-study book (static HTML)",
        description="Stage solutions/ without hidden tests, execute every notebook (outputs cached "
                    "by code content with jupyter-cache) and build the site with Sphinx, MyST-NB and "
                    "sphinx-book-theme. Open OUT/index.html.")
    parser.add_argument("--out", type=Path, default=book.DEFAULT_OUT,
                        help=f"site folder (default: {book.DEFAULT_OUT.relative_to(book.course.ROOT)})")
    parser.add_argument("--cache", type=Path, default=book.DEFAULT_CACHE,
                        help="jupyter-cache folder of executed notebooks "
                             f"(default: {book.DEFAULT_CACHE.relative_to(book.course.ROOT)})")
    parser.add_argument("--budget", choices=["full", "grading"], default="full",
                        help="training budget the notebooks run with (default: full, the lab sheets')")
    parser.set_defaults(run=run_book)


def run_book(args) -> int:
    import time

    from flowlab.course import book

    started = time.monotonic()
    index = book.build(args.out, args.cache, args.budget)
    print(f"Book built in {time.monotonic() - started:.0f} s: open {index}")
    return 0


COMMANDS = [commands.register, add_grade, add_grade_merge, add_book]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowlab", description="flowlab course tools")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flowlab`` command; clear one-line errors for bad input."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, FileNotFoundError) as error:
        print(f"flowlab {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
