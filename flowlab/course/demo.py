"""``flowlab demo``: autograde every lab's example submissions and print one grade table.

This is the instructor's whole loop on data that ships with the course: the example submissions
(complete, partly wrong, untouched) go through ``flowlab grade`` exactly as a class would, and the
table compares each score with the one the lab's catalog says it must get.
"""

import csv
from pathlib import Path

import nbformat

from flowlab import course
from flowlab.course import submissions

DEMO = course.WORK / "demo"


def _student_id(example: str) -> str:
    # The default file-name pattern takes the id up to the first underscore.
    return example.replace("_", "-")


def grade_examples(lab: str, out: Path, workers: int) -> list[dict]:
    """Grade ``lab``'s examples into ``out``; return one row per example with expected scores."""
    from flowlab.course.grading import batch

    folder = out / "submissions"
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in submissions.example_submissions(lab).items():
        nbformat.write(notebook, folder / f"{_student_id(name)}.ipynb")
    summary = batch.grade(lab, folder, out / "graded", batch.Options(workers=workers))
    print(summary.text(out / "graded"))
    expected = {_student_id(name): score for name, score in
                submissions.expected_scores(lab, submissions.total_points(lab)).items()}
    with open(out / "graded" / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["lab"] = lab
        row["expected"] = expected.get(row["student"])
    return rows


def table(rows: list[dict]) -> str:
    """The demo's grade table, with a mark on every row whose score is not the expected one."""
    lines = [f"{'lab':<16} {'student':<14} {'status':<8} {'score':>7} {'expected':>9}  ok"]
    for row in rows:
        score = float(row["total"]) if row["total"] else None
        ok = score is not None and score == row["expected"]
        shown = f"{score:g}/{float(row['max_total']):g}" if score is not None else "-"
        lines.append(f"{row['lab']:<16} {row['student']:<14} {row['status']:<8} {shown:>7} "
                     f"{row['expected']:>9g}  {'yes' if ok else 'NO'}")
    return "\n".join(lines)


def main_demo(labs: list[str] | None = None, workers: int = 2, out: Path = DEMO) -> int:
    """Grade all labs' examples, print the table; exit status 1 if any score is unexpected."""
    rows = []
    for lab in labs or course.lab_names():
        print(f"== {lab}", flush=True)
        rows += grade_examples(lab, Path(out) / lab, workers)
    print()
    print(table(rows))
    bad = [r for r in rows if not r["total"] or float(r["total"]) != r["expected"]]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} example submissions got their expected score. "
          f"Grades, feedback and gradebooks: {Path(out)}/<lab>/graded/")
    return 1 if bad else 0
