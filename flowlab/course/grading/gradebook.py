"""Copy one graded submission from a student's scratch gradebook into the course gradebook.

Only the batch's main thread calls this, one student at a time, so the course gradebook has a
single writer and SQLite never reports "database is locked". A re-graded student's old entry is
replaced, so the course gradebook always matches the latest grading of each submission.
"""

import contextlib
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry


def url(course_root: Path) -> str:
    """The SQLite URL of the gradebook in ``course_root``."""
    return f"sqlite:///{Path(course_root).resolve() / 'gradebook.db'}"


def remove(course_root: Path, lab: str, student: str) -> None:
    """Drop ``student``'s submission of ``lab`` from the gradebook, if it has one."""
    with Gradebook(url(course_root)) as gradebook, contextlib.suppress(MissingEntry):
        gradebook.remove_submission(lab, student)


def copy_submission(source_root: Path, target_root: Path, lab: str, student: str,
                    flagged: bool = False) -> None:
    """Copy ``student``'s autograded submission of ``lab`` from one course gradebook to another.

    ``flagged`` marks the notebook for review in nbgrader's formgrader (tampering was found).
    """
    with Gradebook(url(source_root)) as source, Gradebook(url(target_root)) as target, \
            warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy autoflush warnings; they are harmless noise.
        warnings.simplefilter("ignore")
        submission = source.find_submission(lab, student)
        target.update_or_create_student(student)
        with contextlib.suppress(MissingEntry):
            target.remove_submission(lab, student)
        target.add_submission(lab, student, timestamp=submission.timestamp,
                              extension=submission.extension)
        for notebook in submission.notebooks:
            copy = target.find_submission_notebook(notebook.name, lab, student)
            copy.flagged = bool(notebook.flagged or flagged)
            copy.late_submission_penalty = notebook.late_submission_penalty
            for grade in notebook.grades:
                into = target.find_grade(grade.name, notebook.name, lab, student)
                into.auto_score = grade.auto_score
                into.manual_score = grade.manual_score
                into.extra_credit = grade.extra_credit
                into.needs_manual_grade = grade.needs_manual_grade
            for comment in notebook.comments:
                into = target.find_comment(comment.name, notebook.name, lab, student)
                into.auto_comment = comment.auto_comment
                into.manual_comment = comment.manual_comment
        target.db.commit()


def students(course_root: Path, lab: str) -> list[str]:
    """Students with a submission of ``lab`` in the gradebook."""
    with Gradebook(url(course_root)) as gradebook:
        try:
            return sorted(s.student.id for s in gradebook.find_assignment(lab).submissions)
        except MissingEntry:
            return []


def scores(course_root: Path, lab: str, student: str) -> dict[str, float | None]:
    """Points per graded cell (``grade_id`` -> score; None where a human still has to grade)."""
    with Gradebook(url(course_root)) as gradebook:
        notebook = gradebook.find_submission_notebook(lab, lab, student)
        return {grade.name: (None if grade.score is None else float(grade.score))
                for grade in notebook.grades if grade.max_score > 0}
