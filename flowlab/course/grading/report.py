"""The grades CSV, the per-student result records, and the end-of-run summary.

The CSV holds one row per student, sorted by student, and nothing that depends on timing or
scheduling, so the same submissions give byte-identical files whatever ``--workers`` was.
"""

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

GRADED = "graded"
NOT_GRADED = ("invalid", "wrong_lab", "timeout", "crashed", "error")
STATUS_HELP = {
    "graded": "ran under the limits and was scored by nbgrader (0 points is an honest 0)",
    "invalid": "not gradable: empty, not JSON, not a notebook, or an unusable/duplicate student id",
    "wrong_lab": "a notebook of another lab",
    "timeout": "stopped at the whole-notebook time limit",
    "crashed": "the kernel died (os._exit, segfault, memory)",
    "error": "the grader itself failed on this submission (see reason)",
}


def results_dir(out: Path) -> Path:
    return Path(out) / "results"


def write_record(out: Path, record: dict) -> None:
    """Store one student's result atomically (a Ctrl-C never leaves half a file)."""
    folder = results_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{record['student']}.json.tmp"
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, folder / f"{record['student']}.json")


def read_records(out: Path) -> dict[str, dict]:
    """All stored results: student -> record."""
    folder = results_dir(out)
    if not folder.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _number(value) -> str:
    return "" if value is None else f"{round(float(value), 4):g}"


def write_csv(path: Path, tasks: list[tuple[str, float]], records: dict[str, dict]) -> None:
    """The grades CSV: student, status, total, max_total, one column per graded cell, reason,
    flags (``; ``-separated), sandbox, file, sha256."""
    max_total = sum(points for _, points in tasks)
    header = ["student", "status", "total", "max_total", *[gid for gid, _ in tasks],
              "reason", "flags", "sandbox", "file", "sha256"]
    tmp = Path(path).with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for student in sorted(records):
            record = records[student]
            scores = record.get("scores") or {}
            graded = record["status"] == GRADED
            total = sum(scores.get(gid, 0.0) for gid, _ in tasks) if graded else None
            writer.writerow([student, record["status"], _number(total),
                             _number(max_total), *[_number(scores.get(gid)) if graded else ""
                                                   for gid, _ in tasks],
                             record.get("reason", ""), "; ".join(record.get("flags", [])),
                             record.get("sandbox", ""), record.get("file", ""),
                             record.get("sha256", "")])
    os.replace(tmp, path)


@dataclass
class Summary:
    """What a run did, for the closing lines."""

    total: int = 0
    graded: int = 0
    failed: int = 0
    flagged: int = 0
    skipped: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False

    def text(self, out: Path) -> str:
        lines = []
        if self.interrupted:
            lines.append("INTERRUPTED: the gradebook and CSV hold every student finished so far; "
                         "run the same command again to grade the rest.")
        lines += self.warnings
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()) if k != GRADED)
        lines.append(f"{self.total} submissions: {self.graded} graded, {self.failed} could not be "
                     f"graded{f' ({failed})' if failed else ''}, {self.flagged} flagged for review, "
                     f"{self.skipped} unchanged since the last run (not re-graded).")
        lines.append(f"Time: {self.seconds:.1f} s. Grades: {Path(out) / 'grades.csv'}; "
                     f"feedback: {Path(out) / 'feedback'}/")
        return "\n".join(lines)
