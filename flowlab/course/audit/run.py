"""Grade an audit's submissions with the real autograder (``flowlab grade``) and judge them."""

import shutil
import time
from pathlib import Path

import nbformat

from flowlab import checks, course
from flowlab.course import submissions
from flowlab.course.audit import plan, verdicts
from flowlab.course.grading import batch, intake, report


def _solution_tasks(release: nbformat.NotebookNode) -> list[str]:
    return [gid for gid, meta in intake.graded_cells(release) if meta.get("solution")]


def readings(record: dict) -> list[verdicts.Reading]:
    """The threshold readings (:data:`flowlab.checks.THRESHOLD_LINE`) the trusted checks noted for
    one graded notebook."""
    found = []
    for test, verdict in sorted(record.get("verdicts", {}).get("verdicts", {}).items()):
        for note in verdict.get("notes", []):
            for match in checks.THRESHOLD_LINE.finditer(note):
                try:
                    found.append(verdicts.Reading(test, match["name"], float(match["value"]),
                                                  float(match["limit"])))
                except ValueError:
                    continue
    return found


def cell_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """Errors raised and text written to stderr by any cell: correct work must have neither."""
    problems = []
    for index, cell in enumerate(notebook.cells):
        name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"#{index + 1}"
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {name} raised {output.ename}: {output.evalue[:200]}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"cell {name} wrote to stderr: {output.text[:200]!r}")
    return problems


def grade(lab: str, notebooks: dict[str, nbformat.NotebookNode], out: Path,
          workers: int, progress: bool) -> dict[str, verdicts.Graded]:
    """Grade ``notebooks`` (student id -> notebook) from scratch into ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    folder = out / "submissions"
    folder.mkdir(parents=True)
    for student, notebook in notebooks.items():
        nbformat.write(notebook, folder / f"{student}.ipynb")
    graded_dir = out / "graded"
    batch.grade(lab, folder, graded_dir, batch.Options(workers=workers, progress=progress))
    records = report.read_records(graded_dir)
    results = {}
    for student in notebooks:
        record = records.get(student, {"status": "missing", "reason": "no result was stored"})
        autograded = graded_dir / "course" / "autograded" / student / lab / f"{lab}.ipynb"
        notebook = (nbformat.read(autograded, as_version=4) if autograded.is_file()
                    else nbformat.v4.new_notebook())
        results[student] = verdicts.Graded(record["status"], record.get("reason", ""),
                                           dict(record.get("scores") or {}), readings(record),
                                           "; ".join(record.get("flags", [])),
                                           cell_problems(notebook))
    return results


def audit_lab(lab: str, out: Path, workers: int = 2, isolated: bool = False, seeds: int = 5,
              repeats: int = 3, progress: bool = False) -> verdicts.LabAudit:
    """Grade every catalog entry, the reference at ``seeds`` seeds and the partly wrong example
    ``repeats`` times, with the real autograder; shared submissions with any surprise are graded
    again one entry at a time. Work files go to ``out`` (emptied first)."""
    started = time.monotonic()
    catalog = submissions.load_catalog(lab)
    release = nbformat.read(course.release_notebook(lab), as_version=4)
    points, tasks = dict(batch.tasks_of(release)), _solution_tasks(release)
    planned = plan.trials(catalog, tasks, isolated, seeds, repeats)
    graded = grade(lab, {t.name: plan.notebook_for(t, lab, release, catalog) for t in planned},
                   Path(out) / "first-round", workers, progress)
    gradings = len(planned)
    entries, wrong_runs, again = [], [], []
    for trial in planned:
        if trial.kind not in ("wrong", "correct"):
            continue
        group = [catalog.mutations[m] for m in trial.mutations]
        judged = verdicts.judge(group, trial.name, graded[trial.name], points)
        if verdicts.needs_regrading(judged):
            again += [plan.Trial(f"alone-{m.id.replace('_', '-')}", m.kind, (m.id,)) for m in group]
        else:
            entries += judged
            if trial.kind == "wrong":
                wrong_runs.append((group, graded[trial.name]))
    if again:
        regraded = grade(lab, {t.name: plan.notebook_for(t, lab, release, catalog) for t in again},
                         Path(out) / "one-by-one", workers, progress)
        gradings += len(again)
        for trial in again:
            group = [catalog.mutations[trial.mutations[0]]]
            entries += verdicts.judge(group, trial.name, regraded[trial.name], points)
            if trial.kind == "wrong":
                wrong_runs.append((group, regraded[trial.name]))
    partly_wrong = catalog.examples.get("partly_wrong", {})
    return verdicts.LabAudit(
        lab, tasks, points, entries,
        seeds={t.seed: graded[t.name] for t in planned if t.kind == "seed"},
        repeats=[graded[t.name] for t in planned if t.kind == "repeat"],
        repeat_group=[catalog.mutations[m] for m in partly_wrong.get("mutations", ())],
        repeat_expected=float(partly_wrong["expected_score"]) if partly_wrong else None,
        untouched=graded.get("untouched"), wrong_runs=wrong_runs, gradings=gradings,
        seconds=time.monotonic() - started, graded_dir=str(Path(out) / "first-round" / "graded"))
