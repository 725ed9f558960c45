"""``flowlab grade-merge OUT SHARD...``: join the output folders of ``--shard`` runs.

Every shard must have graded the same lab from the same source notebook. The merged folder has
the same layout as a single run's (course gradebook, feedback, results, grades.csv), and merging
again after a shard is re-run replaces that shard's students.
"""

import json
import shutil
from pathlib import Path

import nbformat

from flowlab.course.grading import batch, gradebook, report


def _marker(folder: Path) -> dict:
    marker = Path(folder) / "course" / "flowlab-lab.json"
    if not marker.is_file():
        raise ValueError(f"{folder} is not the --out folder of a `flowlab grade` run "
                         f"({marker} is missing).")
    return json.loads(marker.read_text())


def merge(out: Path, shards: list[Path]) -> str:
    """Merge ``shards`` into ``out``; return a one-paragraph summary."""
    out = Path(out).resolve()
    shards = [Path(s).resolve() for s in shards]
    markers = {str(s): _marker(s) for s in shards}
    first = markers[str(shards[0])]
    for folder, marker in markers.items():
        if marker != first:
            raise ValueError(f"{folder} graded {marker.get('lab')} from another source notebook "
                             f"than {shards[0]} ({first.get('lab')}); shards must match.")
    out.mkdir(parents=True, exist_ok=True)
    lab = first["lab"]
    final = out / "course"
    if final.exists() and _marker(out) != first:
        raise ValueError(f"{out} already holds grades of another lab or source; use a new folder.")
    owner: dict[str, Path] = {}
    with batch.locked(out):
        if not final.exists():
            shutil.copytree(shards[0] / "course", final)
        for folder in shards:
            for student, record in report.read_records(folder).items():
                if student in owner and owner[student] != folder:
                    raise ValueError(f"student {student} is in two shards ({owner[student]} and "
                                     f"{folder}); were they run with the same N?")
                owner[student] = folder
                with batch.deferred_sigint():
                    if record["status"] == report.GRADED:
                        gradebook.copy_submission(folder / "course", final, lab, student,
                                                  bool(record["flags"]))
                        target = final / "autograded" / student
                        shutil.rmtree(target, ignore_errors=True)
                        if (folder / "course" / "autograded" / student).is_dir():
                            shutil.copytree(folder / "course" / "autograded" / student, target)
                        feedback = folder / "feedback" / f"{student}.html"
                        if feedback.is_file():
                            (out / "feedback").mkdir(exist_ok=True)
                            shutil.copyfile(feedback, out / "feedback" / f"{student}.html")
                    else:
                        gradebook.remove(final, lab, student)
                    report.write_record(out, record)
        release = nbformat.read(final / "release" / lab / f"{lab}.ipynb", as_version=4)
        records = {s: r for s, r in report.read_records(out).items() if r.get("lab") == lab}
        report.write_csv(out / "grades.csv", batch.tasks_of(release), records)
    graded = sum(1 for r in records.values() if r["status"] == report.GRADED)
    return (f"Merged {len(shards)} shards into {out}: {len(records)} students, {graded} graded, "
            f"{len(records) - graded} could not be graded, "
            f"{sum(1 for r in records.values() if r['flags'])} flagged. Grades: {out / 'grades.csv'}")
