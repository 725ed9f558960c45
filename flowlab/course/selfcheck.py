"""``flowlab check NOTEBOOK``: grade one notebook exactly as ``flowlab grade`` would, and say which
checks pass.

It is the real grader on a class of one: the notebook runs in the sandboxed grading kernel under
the grading budget, and the lab's trusted checks judge it outside that kernel. So an instructor can
check a submission without running the student's code unsandboxed, and a student sees the score
the grader will give.
"""

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from flowlab import course
from flowlab.course.grading import batch, intake, report

STUB = "raise NotImplementedError()"
STUDENT = "you"


class CheckError(RuntimeError):
    """The notebook cannot be checked (missing, unreadable, not a lab's notebook)."""


@dataclass
class CheckResult:
    """One graded test cell's outcome in a self-check."""

    grade_id: str
    points: float
    status: str  # "passed", "failed" or "not attempted"
    message: str = ""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    path = Path(path)
    if not path.is_file():
        raise CheckError(f"No notebook at {path}.")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several types for a damaged file
        raise CheckError(f"{path} is not a readable notebook ({error}). If you edited it outside "
                         "Jupyter, restore it from labs/ and copy your answers back.") from error


def lab_of(notebook: nbformat.NotebookNode, path: Path) -> str:
    """The lab whose graded cells the notebook holds (its file name may have been changed)."""
    ours = {gid for gid, _ in intake.graded_cells(notebook)}
    for lab in course.lab_names():
        release = nbformat.read(course.release_notebook(lab), as_version=4)
        if ours & {gid for gid, _ in intake.graded_cells(release)}:
            return lab
    raise CheckError(f"{path} holds none of the graded cells of {', '.join(course.lab_names())}: "
                     "check the notebook you downloaded from labs/.")


def check(path: Path, sandbox: str = "bwrap", out: Path | None = None) -> list[CheckResult]:
    """Grade the notebook at ``path`` with the course's grader; the outcome of every test cell."""
    notebook = read_notebook(path)
    lab = lab_of(notebook, Path(path))
    with tempfile.TemporaryDirectory(prefix="flowlab-check-") as scratch:
        folder = Path(scratch) / "submission"
        folder.mkdir()
        nbformat.write(notebook, folder / f"{STUDENT}.ipynb")
        where = Path(out) if out else Path(scratch) / "graded"
        batch.grade(lab, folder, where, batch.Options(sandbox=sandbox, progress=False, export=False))
        record = report.read_records(where).get(STUDENT)
    if record is None or record["status"] != report.GRADED:
        reason = record["reason"] if record else "no result was stored"
        status = record["status"] if record else "error"
        raise CheckError(f"The notebook could not be graded ({status}): {reason}")
    return results_of(notebook, record)


def results_of(notebook: nbformat.NotebookNode, record: dict) -> list[CheckResult]:
    """Per test cell: passed, failed with the grader's message, or not attempted."""
    attempted = {meta.get("grade_id"): STUB not in cell.source for cell in notebook.cells
                 if (meta := cell.get("metadata", {}).get("nbgrader", {})).get("solution")}
    verdicts = record.get("verdicts", {}).get("verdicts", {})
    results = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or meta.get("solution"):
            continue
        test = meta["grade_id"]
        verdict = verdicts.get(test, {"passed": False, "message": "not graded"})
        status, message = ("passed", "") if verdict["passed"] else ("failed", verdict["message"])
        if status == "failed" and attempted.get(test.removesuffix("_test")) is False:
            status, message = "not attempted", "the answer cell still raises NotImplementedError"
        results.append(CheckResult(test, float(meta.get("points", 0)), status, message))
    return results


def report_text(results: list[CheckResult], seconds: float) -> str:
    """The self-check as a table a student can read."""
    width = max([len(r.grade_id) for r in results] + [4])
    lines = [f"{'task':<{width}}  points  result"]
    for r in results:
        detail = f"  {r.message}" if r.message else ""
        lines.append(f"{r.grade_id:<{width}}  {r.points:>6g}  {r.status}{detail}")
    passed = sum(r.points for r in results if r.status == "passed")
    total = sum(r.points for r in results)
    lines.append(f"\nScore: {passed:g} of {total:g} points ({seconds:.0f} s), graded as `flowlab grade` "
                 "grades it: sandboxed, grading budget, trusted checks on fresh inputs.")
    return "\n".join(lines)


def main_check(path: str, sandbox: str = "bwrap") -> int:
    """Entry point of ``flowlab check``: print the report; exit status 1 unless all passed."""
    start = time.perf_counter()
    try:
        results = check(Path(path), sandbox=sandbox)
    except (CheckError, batch.GradingError) as error:
        print(f"flowlab check: {error}")
        return 2
    print(report_text(results, time.perf_counter() - start))
    return 0 if results and all(r.status == "passed" for r in results) else 1
