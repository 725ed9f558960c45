"""The course-maintenance and student subcommands of ``flowlab``: build, drift, examples, check,
demo, audit, and nbgrader passthrough."""

import sys
from pathlib import Path

from flowlab import course


def _build(args) -> int:
    for path in course.build_labs(args.labs or None):
        print(f"generated {path.relative_to(course.ROOT)}")
    return 0


def _check_drift(args) -> int:
    problems = course.drifted_labs(args.labs or None)
    for lab, reason in problems.items():
        print(f"{lab}: {reason}", file=sys.stderr)
    if not problems:
        print("labs/ matches what solutions/ generates.")
    return 1 if problems else 0


def _examples(args) -> int:
    from flowlab.course import submissions

    for lab in args.labs or course.lab_names():
        for path in submissions.write_examples(lab, Path(args.out)):
            print(f"wrote {path}")
    return 0


def _check(args) -> int:
    from flowlab.course import selfcheck

    return selfcheck.main_check(args.notebook, sandbox="none" if args.no_sandbox else "bwrap")


def _demo(args) -> int:
    from flowlab.course import demo

    return demo.main_demo(args.labs or None, workers=args.workers)


def _audit(args) -> int:
    from flowlab.course import audit

    return audit.main_audit(args.labs or None, Path(args.out), args.workers, args.isolated,
                            args.seeds, args.repeats)


def _nbgrader(args) -> int:
    try:
        course.nbgrader(*args.arguments, capture=False)
    except course.NbgraderError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def register(subparsers) -> None:
    """Add the build, check-drift, examples and check subcommands to ``flowlab``'s parser."""
    build = subparsers.add_parser(
        "build", help="generate the student labs/ from solutions/ with nbgrader")
    build.add_argument("labs", nargs="*", help="labs to build (default: all)")
    build.set_defaults(run=_build)

    drift = subparsers.add_parser(
        "check-drift", help="fail if labs/ differs from what solutions/ generates")
    drift.add_argument("labs", nargs="*", help="labs to check (default: all)")
    drift.set_defaults(run=_check_drift)

    examples = subparsers.add_parser(
        "examples", help="write the example submissions (complete, partly wrong, untouched)")
    examples.add_argument("labs", nargs="*", help="labs (default: all)")
    examples.add_argument("--out", default=str(course.AUTOGRADER / "examples"),
                          help="folder to write <lab>/<example>.ipynb into")
    examples.set_defaults(run=_examples)

    check = subparsers.add_parser(
        "check", help="grade one lab notebook exactly as `flowlab grade` would, report each check")
    check.add_argument("notebook", help="path to your lab notebook (.ipynb)")
    check.add_argument("--no-sandbox", action="store_true",
                       help="run without bubblewrap (only for your own notebook, on a machine "
                            "without it; never for someone else's submission)")
    check.set_defaults(run=_check)

    demo = subparsers.add_parser(
        "demo", help="autograde every lab's example submissions and print the grade table")
    demo.add_argument("labs", nargs="*", help="labs (default: all)")
    demo.add_argument("--workers", type=int, default=2, help="students graded at once (2)")
    demo.set_defaults(run=_demo)

    audit = subparsers.add_parser(
        "audit", help="prove the graders right: grade every catalog mutant, correct variant, "
                      "and the reference at several seeds; print the table")
    audit.add_argument("labs", nargs="*", help="labs (default: all)")
    audit.add_argument("--out", default=str(course.WORK / "audit"), help="work folder (emptied)")
    audit.add_argument("--workers", type=int, default=2, help="notebooks graded at once (2)")
    audit.add_argument("--isolated", action="store_true",
                       help="grade every catalog entry in a notebook of its own (slower)")
    audit.add_argument("--seeds", type=int, default=5, help="seeds the reference runs with (5)")
    audit.add_argument("--repeats", type=int, default=3,
                       help="gradings of the partly wrong example (3)")
    audit.set_defaults(run=_audit)

    passthrough = subparsers.add_parser(
        "nbgrader", help="run any nbgrader command with the course's configuration")
    passthrough.add_argument("arguments", nargs="...", help="nbgrader's own arguments")
    passthrough.set_defaults(run=_nbgrader)
