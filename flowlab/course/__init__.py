"""The course tooling: this package holds what instructors and the test suite run (build, examples,
self-check, demo, book, command line, ``grading/``, ``audit/``); no notebook imports it, and the
grading sandbox hides it from student code. This module is the course's layout and nbgrader's
commands, run the way this course needs them.

The nbgrader *source* is ``solutions/``, the *release* ``labs/``; each lab is a folder holding one
notebook of the same name. nbgrader runs as a subprocess with the course's config, so a failure in
one call cannot leave state behind in the caller.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
LABS = ROOT / "labs"
AUTOGRADER = ROOT / "autograder"
CONFIG = AUTOGRADER / "nbgrader_config.py"
VERIFIERS = AUTOGRADER / "verifiers"
WORK = ROOT / "work"


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries its output."""


def lab_names() -> list[str]:
    """The labs, in course order: every ``solutions/<lab>/<lab>.ipynb``."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").is_file())


def check_lab(lab: str) -> str:
    """Return ``lab`` if it is a lab of this course; otherwise a clear error naming the labs."""
    if lab not in lab_names():
        raise ValueError(f"No lab named {lab!r}. The labs are: {', '.join(lab_names())}.")
    return lab


def source_notebook(lab: str) -> Path:
    """The reference notebook of ``lab`` (solutions and hidden tests)."""
    return SOLUTIONS / lab / f"{lab}.ipynb"


def release_notebook(lab: str, release: Path = LABS) -> Path:
    """The student notebook of ``lab`` in ``release``."""
    return release / lab / f"{lab}.ipynb"


def grading_environment(base: dict | None = None) -> dict:
    """Environment for a grading kernel: the grading budget, and nothing that writes to stderr.

    nbgrader gives a test cell zero points if it wrote anything to stderr, so TensorFlow's logs and
    Python warnings are turned off here (``flowlab.tfenv`` also swallows TensorFlow's C++ start-up
    lines, which no variable silences).
    """
    env = dict(os.environ if base is None else base)
    env.update({
        "FLOWLAB_BUDGET": "grading",
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONWARNINGS": "ignore",
        "MPLBACKEND": "agg",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        # Kernels are graded side by side, so scikit-learn's joblib gets no process pool; the cap
        # also stops it probing the physical core count, which fails in the sandbox (no lscpu
        # view of /sys) and prints the failure to stderr.
        "LOKY_MAX_CPU_COUNT": "1",
    })
    return env


def run_solutions(lab: str, budget: str, timeout: int = 3600) -> tuple[nbformat.NotebookNode, float]:
    """Execute ``lab``'s solutions notebook top to bottom under ``budget`` (errors abort).

    Returns the executed notebook and its wall time in seconds: what the benchmarks report.
    """
    from nbclient import NotebookClient

    notebook = nbformat.read(source_notebook(lab), as_version=4)
    os.environ.update(grading_environment())
    os.environ["FLOWLAB_BUDGET"] = budget
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(source_notebook(lab).parent)}}).execute()
    return notebook, time.perf_counter() - start


def course_options(course_root: Path) -> list[str]:
    """nbgrader options that move the work folders and gradebook under ``course_root``."""
    course_root = Path(course_root).resolve()
    return [
        f"--CourseDirectory.root={course_root}",
        f"--CourseDirectory.source_directory={SOLUTIONS}",
        "--CourseDirectory.release_directory=release",
        "--CourseDirectory.submitted_directory=submitted",
        "--CourseDirectory.autograded_directory=autograded",
        "--CourseDirectory.feedback_directory=feedback",
        f"--CourseDirectory.db_url=sqlite:///{course_root / 'gradebook.db'}",
    ]


def nbgrader(*args: str, course_root: Path | None = None, env: dict | None = None,
             timeout: float | None = None, capture: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` with the course config; raise :class:`NbgraderError` if it fails.

    With ``course_root``, the work folders and gradebook live there instead of ``work/``. With
    ``capture=False`` nbgrader talks to the terminal directly (for interactive use).
    """
    command = [sys.executable, "-m", "nbgrader", *args]
    if course_root is not None:
        command += course_options(course_root)
    env = dict(os.environ if env is None else env)
    # nbgrader shells out to `alembic`, which lives beside this interpreter in a virtualenv.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # nbgrader reads nbgrader_config.py from the working folder; it has no --config option.
    result = subprocess.run(command, cwd=CONFIG.parent, env=env, capture_output=capture,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        if not capture:
            raise NbgraderError(f"`nbgrader {' '.join(args)}` failed (exit {result.returncode}).")
        raise NbgraderError(
            f"`nbgrader {' '.join(args)}` failed (exit {result.returncode}):\n"
            f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
        )
    return result


def generate_release(lab: str, course_root: Path) -> Path:
    """Generate ``lab``'s student notebook into ``course_root/release`` and record it in that
    course's gradebook (autograde needs it there). Returns the release notebook's path."""
    nbgrader("generate_assignment", check_lab(lab), "--force", course_root=course_root)
    return release_notebook(lab, Path(course_root) / "release")


def build_labs(labs: list[str] | None = None, dest: Path = LABS) -> list[Path]:
    """Regenerate the student notebooks in ``labs/`` from ``solutions/`` (never edit them by hand)."""
    written = []
    for lab in labs or lab_names():
        with tempfile.TemporaryDirectory(prefix="flowlab-build-") as scratch:
            generated = generate_release(lab, Path(scratch))
            target = release_notebook(lab, dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(generated, target)
            written.append(target)
    return written


def comparable_cells(path: Path) -> list[tuple]:
    """A notebook's cells as (type, source, metadata) triples: what drift checks compare.

    Outputs and execution counts are cleared on generation, so they are not compared; neither are
    timestamps, which nbgrader does not write into cells.
    """
    notebook = nbformat.read(path, as_version=4)
    return [(cell.cell_type, cell.source, dict(cell.metadata)) for cell in notebook.cells]


def drifted_labs(labs: list[str] | None = None, release: Path = LABS) -> dict[str, str]:
    """Labs whose student notebook in ``release`` differs from a fresh generation, and why."""
    problems = {}
    with tempfile.TemporaryDirectory(prefix="flowlab-drift-") as scratch:
        for lab in labs or lab_names():
            committed = release_notebook(lab, release)
            if not committed.is_file():
                problems[lab] = f"{committed} is missing; run `flowlab build`."
                continue
            fresh = comparable_cells(generate_release(lab, Path(scratch)))
            ours = comparable_cells(committed)
            if fresh != ours:
                first = next((i for i, (a, b) in enumerate(zip(fresh, ours, strict=False))
                              if a != b), min(len(fresh), len(ours)))
                problems[lab] = (f"{committed} differs from what `flowlab build` generates, "
                                 f"first at cell {first}; run `flowlab build` and commit labs/.")
    return problems


def read_scores(course_root: Path, lab: str, student: str) -> dict[str, float]:
    """Points per graded test cell (``grade_id`` -> score) of one autograded submission."""
    from nbgrader.api import Gradebook

    url = f"sqlite:///{Path(course_root).resolve() / 'gradebook.db'}"
    with Gradebook(url) as gradebook:
        notebook = gradebook.find_submission_notebook(lab, lab, student)
        return {grade.name: float(grade.score) for grade in notebook.grades
                if grade.cell.max_score > 0}


def autograde_one(lab: str, submission: Path, course_root: Path, student: str = "student",
                  env: dict | None = None) -> dict[str, float]:
    """Autograde one submitted notebook with real nbgrader; return its points per test cell.

    ``course_root`` is a scratch course folder; the release and gradebook are created there on
    first use. The kernel runs with :func:`grading_environment` unless ``env`` is given.
    """
    course_root = Path(course_root)
    if not (course_root / "gradebook.db").is_file() or not release_notebook(
            lab, course_root / "release").is_file():
        generate_release(lab, course_root)
    target = course_root / "submitted" / student / lab / f"{lab}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(submission, target)
    nbgrader("autograde", lab, f"--student={student}", "--force", course_root=course_root,
             env=env or grading_environment())
    return read_scores(course_root, lab, student)
