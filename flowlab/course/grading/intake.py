"""Find the submissions of one lab and check that each is a notebook of that lab.

Three layouts are accepted (a zip of any of them too):

* a folder of notebooks, one per student, as a learning platform exports them; the student id is
  taken from the file name by :data:`DEFAULT_PATTERN` or ``--pattern`` (a regex with a named group
  ``student``, matched against the file name);
* nbgrader's ``submitted/<student>/<lab>/<lab>.ipynb`` layout (or the folder holding
  ``<student>/<lab>/``).

Problems with a file are not errors of the batch: they become the submission's status and reason.
"""

import hashlib
import json
import re
import shutil
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

DEFAULT_PATTERN = r"^(?P<student>[^_]+?)(?:_.*)?\.ipynb$"
"""The student id is the file name up to the first underscore: ``alice.ipynb``, ``alice_lab01.ipynb``
and Canvas-style ``alice_12345_678_lab01.ipynb`` all give ``alice``."""

VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")
IGNORED = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store"}


@dataclass
class Submission:
    """One student's file; ``status``/``reason`` are set when it cannot be graded."""

    student: str
    path: Path | None
    label: str
    """Where it came from, relative to the submissions (stable across runs and machines)."""
    status: str = ""
    reason: str = ""
    sha256: str = ""


class IntakeError(ValueError):
    """The submissions as a whole cannot be read (missing path, bad pattern, bad zip)."""


def compile_pattern(pattern: str) -> re.Pattern:
    """The student-id regex, with a clear error if it is invalid or lacks the ``student`` group."""
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise IntakeError(f"--pattern {pattern!r} is not a valid regular expression: {error}.") from None
    if "student" not in compiled.groupindex:
        raise IntakeError(f"--pattern {pattern!r} needs a named group (?P<student>...) that captures "
                          "the student id from the file name.")
    return compiled


def unpack(archive: Path, dest: Path) -> Path:
    """Extract the notebooks of a zip into ``dest``, refusing paths that would escape it."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                parts = Path(info.filename).parts
                if info.is_dir() or not parts or set(parts) & IGNORED or ".." in parts \
                        or Path(info.filename).is_absolute():
                    continue
                target = dest.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    except zipfile.BadZipFile as error:
        raise IntakeError(f"{archive} is not a readable zip file ({error}).") from None
    return dest


def _nbgrader_root(folder: Path, lab: str) -> Path | None:
    """The folder holding ``<student>/<lab>/`` if ``folder`` uses nbgrader's layout."""
    for candidate in (folder / "submitted", folder):
        if candidate.is_dir() and any((d / lab).is_dir() for d in candidate.iterdir() if d.is_dir()):
            return candidate
    return None


def collect(submissions: Path, lab: str, pattern: str = DEFAULT_PATTERN,
            unpack_to: Path | None = None) -> list[Submission]:
    """All submissions of ``lab`` found in ``submissions`` (folder or zip), sorted by student."""
    submissions = Path(submissions)
    if not submissions.exists():
        raise IntakeError(f"Submissions not found: {submissions} does not exist.")
    if submissions.is_file():
        if not zipfile.is_zipfile(submissions):
            raise IntakeError(f"{submissions} is a file but not a zip; pass a folder or a zip of "
                              "notebooks.")
        if unpack_to is None:
            raise IntakeError("A zip needs a folder to unpack into.")
        submissions = unpack(submissions, Path(unpack_to))
        # A zip often wraps everything in one top folder.
        entries = [p for p in submissions.iterdir() if p.name not in IGNORED]
        if len(entries) == 1 and entries[0].is_dir():
            submissions = entries[0]
    found = []
    root = _nbgrader_root(submissions, lab)
    if root is not None:
        for student_dir in sorted(d for d in root.iterdir() if d.is_dir() and d.name not in IGNORED):
            lab_dir = student_dir / lab
            label = str(lab_dir.relative_to(submissions))
            notebooks = sorted(lab_dir.glob("*.ipynb")) if lab_dir.is_dir() else []
            preferred = lab_dir / f"{lab}.ipynb"
            if preferred.is_file():
                found.append(Submission(student_dir.name, preferred, f"{label}/{preferred.name}"))
            elif len(notebooks) == 1:
                found.append(Submission(student_dir.name, notebooks[0], f"{label}/{notebooks[0].name}"))
            else:
                reason = (f"no {lab}.ipynb in {label}/" + (
                    f" (found {', '.join(n.name for n in notebooks)})" if notebooks else ""))
                found.append(Submission(student_dir.name, None, label, "invalid", reason))
    else:
        regex = compile_pattern(pattern)
        for path in sorted(p for p in submissions.iterdir() if p.is_file() and p.suffix == ".ipynb"):
            match = regex.search(path.name)
            if not match or not match.group("student"):
                found.append(Submission(path.stem, None, path.name, "invalid",
                                        f"the file name does not match the student-id pattern "
                                        f"{regex.pattern!r}; rename it or pass --pattern"))
                continue
            found.append(Submission(match.group("student"), path, path.name))
    return _check_ids(found)


def _check_ids(found: list[Submission]) -> list[Submission]:
    """Mark ids nbgrader cannot use and ids claimed by two files (neither is graded: which one
    counts is the instructor's call)."""
    by_student: dict[str, list[Submission]] = {}
    for sub in found:
        by_student.setdefault(sub.student, []).append(sub)
    result = []
    for student, subs in sorted(by_student.items()):
        if len(subs) > 1:
            labels = ", ".join(s.label for s in subs)
            merged = Submission(student, None, labels, "invalid",
                                f"{len(subs)} files give student id {student!r} ({labels}); keep one "
                                "or change --pattern")
            result.append(merged)
            continue
        sub = subs[0]
        if not sub.status and not VALID_ID.match(student):
            sub.status, sub.reason = "invalid", (
                f"student id {student!r} (from {sub.label}) has characters nbgrader cannot use; "
                "use letters, digits and _ . @ + - (rename the file or change --pattern)")
        result.append(sub)
    return result


def graded_cells(nb) -> list[tuple[str, dict]]:
    """``(grade_id, nbgrader metadata)`` of every cell that has a grade_id, in notebook order."""
    cells = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade_id"):
            cells.append((str(meta["grade_id"]), meta))
    return cells


def hidden_test_cells(nb) -> list[str]:
    """Cells of a source notebook holding nbgrader hidden tests. nbgrader would run them in the
    student's kernel, where student code can read and defeat them; trusted checks live in the
    lab's verifier instead."""
    return [str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"#{index + 1}")
            for index, cell in enumerate(nb.cells) if "BEGIN HIDDEN TESTS" in cell.get("source", "")]


def validate(sub: Submission, lab: str, release) -> nbformat.NotebookNode | None:
    """Read ``sub`` and check it is a notebook of ``lab`` (compared with the ``release`` notebook).

    Sets ``sub.sha256``; on a problem sets ``sub.status``/``sub.reason`` and returns None.
    """
    if sub.status:
        return None
    data = sub.path.read_bytes()
    sub.sha256 = hashlib.sha256(data).hexdigest()
    if not data.strip():
        sub.status, sub.reason = "invalid", f"{sub.label} is empty"
        return None
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        sub.status, sub.reason = "invalid", f"{sub.label} is not valid notebook JSON ({error})"
        return None
    try:
        with warnings.catch_warnings():
            # nbformat fixes duplicated cell ids with a warning; tamper.py reports duplicates.
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(raw), as_version=4)
            nbformat.validate(nb)
    except Exception as error:  # noqa: BLE001  (nbformat raises many kinds for broken notebooks)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        sub.status, sub.reason = "invalid", f"{sub.label} is not a valid Jupyter notebook ({first})"
        return None
    expected = {gid for gid, _ in graded_cells(release)}
    present = {gid for gid, _ in graded_cells(nb)}
    if expected and not expected & present:
        hint = f" (its graded cells are {', '.join(sorted(present)[:4])})" if present else \
            " (it has no nbgrader cells at all)"
        sub.status, sub.reason = "wrong_lab", (
            f"{sub.label} is not a {lab} notebook: none of its graded cells are there{hint}")
        return None
    return nb


def for_grading(nb, release) -> nbformat.NotebookNode:
    """The notebook nbgrader is given: nbgrader metadata removed from cells it would choke on.

    nbgrader fails the whole notebook on a duplicated grade_id (it blanks the copy's metadata and
    then rejects it) or an unknown one; such cells (flagged by :mod:`.tamper`) are graded as the
    ordinary code they now are, and the first copy of a duplicated cell keeps its role.
    """
    known = {gid for gid, _ in graded_cells(release)}
    seen = set()
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if not isinstance(meta, dict) or not meta.get("grade_id"):
            continue
        grade_id = meta["grade_id"]
        if grade_id in seen or grade_id not in known:
            del cell.metadata["nbgrader"]
        seen.add(grade_id)
    return nb
