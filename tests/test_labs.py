"""Every lab, end to end through ``flowlab grade``: the example submissions get exactly their scores.

The complete example is the reference answers typed into the student notebook; grading it runs the
whole notebook under the grading budget with the hidden tests restored, so it also proves that the
reference runs top to bottom with every test passing and nothing on stderr.
"""

from pathlib import Path

import nbformat
import pytest

from flowlab import course, demo, selfcheck, submissions

LABS = course.lab_names()


def _errors_and_stderr(notebook_path: Path) -> list[str]:
    notebook = nbformat.read(notebook_path, as_version=4)
    problems = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"cell {index} wrote to stderr: {output.text[:300]}")
    return problems


def _points(lab: str) -> dict[str, float]:
    source = nbformat.read(course.source_notebook(lab), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
            for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture(scope="module", params=LABS)
def graded(request, tmp_path_factory):
    """Grade every example submission of one lab with ``flowlab grade --workers 2``."""
    lab = request.param
    out = tmp_path_factory.mktemp(lab)
    rows = {row["student"]: row for row in demo.grade_examples(lab, out, workers=2)}
    return lab, out, rows


def _scores(row: dict, lab: str) -> dict[str, float]:
    return {test: float(row[test]) for test in _points(lab)}


@pytest.mark.slow
def test_examples_get_their_expected_scores(graded):
    lab, _, rows = graded
    assert {name: row["status"] for name, row in rows.items()} == dict.fromkeys(rows, "graded")
    assert {name: float(row["total"]) for name, row in rows.items()} == {
        name: row["expected"] for name, row in rows.items()}


@pytest.mark.slow
def test_reference_answers_run_clean_and_take_every_point(graded):
    lab, out, rows = graded
    assert _scores(rows["complete"], lab) == _points(lab)
    assert rows["complete"]["flags"] == "", "a correct submission must not be flagged"
    autograded = out / "graded" / "course" / "autograded" / "complete" / lab / f"{lab}.ipynb"
    assert _errors_and_stderr(autograded) == []


@pytest.mark.slow
def test_untouched_lab_scores_zero_on_every_task(graded):
    lab, _, rows = graded
    scores = _scores(rows["untouched"], lab)
    assert scores and set(scores.values()) == {0.0}


@pytest.mark.slow
def test_partly_wrong_example_loses_exactly_on_its_mutated_tasks(graded):
    lab, _, rows = graded
    catalog = submissions.load_catalog(lab)
    mutations = [catalog.mutations[m] for m in catalog.examples["partly_wrong"]["mutations"]]
    must_lose = {test for m in mutations for test in m.loses}
    may_lose = must_lose | {test for m in mutations for test in m.may_lose}
    complete, partly = _scores(rows["complete"], lab), _scores(rows["partly-wrong"], lab)
    for test, score in partly.items():
        if test in must_lose:
            assert score < complete[test], f"{lab}: {test} should lose points"
        elif test not in may_lose:
            assert score == complete[test], f"{lab}: {test} lost points collaterally"


@pytest.mark.slow
def test_feedback_is_written_without_hidden_test_code(graded):
    lab, out, _ = graded
    for student in ("complete", "partly-wrong"):
        html = (out / "graded" / "feedback" / f"{student}.html")
        assert html.is_file(), f"no feedback for {student}: {sorted((out / 'graded').iterdir())}"
        assert "BEGIN HIDDEN TESTS" not in html.read_text()


@pytest.mark.slow
def test_self_check_reports_each_task_of_the_first_lab(tmp_path):
    lab = LABS[0]
    results = selfcheck.check(course.release_notebook(lab))
    assert results and {r.status for r in results} == {"not attempted"}
    nbformat.write(submissions.example_submissions(lab)["partly_wrong"], tmp_path / "pw.ipynb")
    by_test = {r.grade_id: r for r in selfcheck.check(tmp_path / "pw.ipynb")}
    assert by_test["make_moons_test"].status == "failed"
    assert "centred near (0.5, 0.25)" in by_test["make_moons_test"].message
    assert by_test["base_sampling_test"].status == "passed"
