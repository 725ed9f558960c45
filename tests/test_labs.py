"""The instructor's loop through ``flowlab demo`` and the student's self-check, on lab 01.

Every lab's example submissions are graded, with exact scores, by the audit
(``tests/test_audit_labs.py``): the reference at seeds 0-4 is the complete example, the partly
wrong example is graded three times, and the untouched notebook must score 0. Here the demo's own
path (example notebooks -> ``flowlab grade`` -> table) runs on the quickest lab.
"""

import nbformat
import pytest

from flowlab import course
from flowlab.course import demo, selfcheck, submissions

FIRST_LAB = course.lab_names()[0]


@pytest.mark.slow
def test_demo_grades_the_examples_to_their_expected_scores(tmp_path):
    rows = demo.grade_examples(FIRST_LAB, tmp_path, workers=2)
    assert sorted(row["student"] for row in rows) == ["complete", "partly-wrong", "untouched"]
    assert {row["student"]: row["status"] for row in rows} == dict.fromkeys(
        ["complete", "partly-wrong", "untouched"], "graded")
    assert {row["student"]: float(row["total"]) for row in rows} == {
        row["student"]: row["expected"] for row in rows}
    assert all(row["flags"] == "" for row in rows)
    table = demo.table(rows)
    assert table.count(" yes") == 3 and " NO" not in table
    graded = tmp_path / "graded"
    assert (graded / "nbgrader_grades.csv").is_file()
    for student in ("complete", "partly-wrong", "untouched"):
        feedback = graded / "feedback" / f"{student}.html"
        assert feedback.is_file() and "BEGIN HIDDEN TESTS" not in feedback.read_text()


@pytest.mark.slow
def test_self_check_reports_each_task_of_the_first_lab(tmp_path):
    results = selfcheck.check(course.release_notebook(FIRST_LAB))
    assert results and {r.status for r in results} == {"not attempted"}
    nbformat.write(submissions.example_submissions(FIRST_LAB)["partly_wrong"], tmp_path / "pw.ipynb")
    by_test = {r.grade_id: r for r in selfcheck.check(tmp_path / "pw.ipynb")}
    assert by_test["make_moons_test"].status == "failed"
    assert "centred near (0.5, 0.25)" in by_test["make_moons_test"].message
    assert by_test["base_sampling_test"].status == "passed"
    # The partly wrong example's scale and shift are swapped: the trusted check says so.
    assert by_test["bijectors_test"].status == "failed"
    assert "scale.forward" in by_test["bijectors_test"].message


def test_self_check_explains_what_it_cannot_check(tmp_path):
    with pytest.raises(selfcheck.CheckError, match="No notebook at"):
        selfcheck.check(tmp_path / "missing.ipynb")
    (tmp_path / "broken.ipynb").write_text("{not json")
    with pytest.raises(selfcheck.CheckError, match="not a readable notebook"):
        selfcheck.check(tmp_path / "broken.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "empty.ipynb")
    with pytest.raises(selfcheck.CheckError, match="holds none of the graded cells"):
        selfcheck.check(tmp_path / "empty.ipynb")
