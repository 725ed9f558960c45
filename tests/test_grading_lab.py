"""End to end on a real lab: the example submissions of lab01 graded by ``flowlab grade`` get the
scores their catalog declares (full marks, an honest 0, and the partly wrong ones)."""

import grading_fixtures as gf
import nbformat
import pytest

from flowlab import course, submissions
from flowlab.grading import batch

pytestmark = pytest.mark.slow
LAB = "lab01_bijectors"


def test_real_lab_examples_get_their_declared_scores(tmp_path):
    if LAB not in course.lab_names() or not course.release_notebook(LAB).is_file():
        pytest.skip(f"{LAB} is not in this checkout")
    folder = tmp_path / "submissions"
    folder.mkdir()
    examples = submissions.example_submissions(LAB)
    for name, nb in examples.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    out = tmp_path / "out"
    summary = batch.grade(LAB, folder, out, batch.Options(
        workers=2, pattern=r"^(?P<student>.+)\.ipynb$", progress=False))
    rows = gf.read_csv(out / "grades.csv")
    total = submissions.total_points(LAB)
    expected = submissions.expected_scores(LAB, total)
    assert {name: (row["status"], float(row["total"])) for name, row in rows.items()} == \
        {name: ("graded", score) for name, score in expected.items()}
    assert all(row["flags"] == "" for row in rows.values())
    assert summary.graded == len(examples) and not summary.warnings
    assert (out / "nbgrader_grades.csv").is_file()
    for name in examples:
        page = (out / "feedback" / f"{name}.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in page
