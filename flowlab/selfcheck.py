"""The student's self-check: run a lab notebook as the grader would and say which checks pass.

Only the visible tests are in a student's notebook, so a pass here is necessary, not sufficient:
the hidden tests run when the instructor grades.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from flowlab import course

STUB = "raise NotImplementedError()"


@dataclass
class CheckResult:
    """One graded test cell's outcome in a self-check."""

    grade_id: str
    points: float
    status: str  # "passed", "failed" or "not attempted"
    message: str = ""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _outcome(cell) -> tuple[str, str]:
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return "failed", f"{output.ename}: {_last_line(output.evalue)}"
        if output.output_type == "stream" and output.name == "stderr":
            return "failed", f"wrote to stderr (graded as a failure): {_last_line(output.text)}"
    return "passed", ""


def run_notebook(path: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """Execute a copy of the notebook at ``path`` under the grading budget; return the copy."""
    from nbclient import NotebookClient

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No notebook at {path}.")
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several types for a damaged file
        raise ValueError(f"{path} is not a readable notebook ({error}). If you edited it "
                         "outside Jupyter, restore it from labs/ and copy your answers back.") from error
    os.environ.update(course.grading_environment())
    client = NotebookClient(notebook, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return notebook


def check(path: Path, timeout: int = 600) -> list[CheckResult]:
    """Self-check the notebook at ``path``: the outcome of every graded test cell, in order."""
    notebook = run_notebook(path, timeout)
    attempted = {}
    results = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            attempted[meta.get("grade_id")] = STUB not in cell.source
        if not meta.get("grade"):
            continue
        status, message = _outcome(cell)
        task = meta["grade_id"].removesuffix("_test")
        if status == "failed" and attempted.get(task) is False:
            status, message = "not attempted", "the answer cell still raises NotImplementedError"
        results.append(CheckResult(meta["grade_id"], float(meta.get("points", 0)), status, message))
    return results


def report(results: list[CheckResult], seconds: float) -> str:
    """The self-check as a table a student can read."""
    width = max([len(r.grade_id) for r in results] + [4])
    lines = [f"{'task':<{width}}  points  result"]
    for r in results:
        detail = f"  {r.message}" if r.message else ""
        lines.append(f"{r.grade_id:<{width}}  {r.points:>6g}  {r.status}{detail}")
    passed = sum(r.points for r in results if r.status == "passed")
    total = sum(r.points for r in results)
    lines.append(f"\nVisible checks passed: {passed:g} of {total:g} points ({seconds:.0f} s). "
                 "Hidden tests run when your notebook is graded.")
    return "\n".join(lines)


def main_check(path: str) -> int:
    """Entry point of ``flowlab check``: print the report; exit status 1 unless all passed."""
    start = time.perf_counter()
    results = check(Path(path))
    print(report(results, time.perf_counter() - start))
    return 0 if results and all(r.status == "passed" for r in results) else 1
