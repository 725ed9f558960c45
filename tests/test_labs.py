"""Every lab, end to end on real nbgrader: its example submissions get exactly their scores.

The complete example is the reference answers typed into the student notebook; autograding it
runs the whole notebook under the grading budget with the hidden tests restored, so it also proves
the reference notebook runs top to bottom with every test passing and nothing on stderr.
"""

from pathlib import Path

import nbformat
import pytest

from flowlab import course, selfcheck, submissions

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


@pytest.fixture(scope="module", params=LABS)
def graded(request, tmp_path_factory):
    """Autograde every example submission of one lab in one scratch course."""
    lab = request.param
    root = tmp_path_factory.mktemp(lab)
    scores = {}
    for name, notebook in submissions.example_submissions(lab).items():
        path = root / f"{name}.ipynb"
        nbformat.write(notebook, path)
        scores[name] = course.autograde_one(lab, path, root, student=name)
    return lab, root, scores


@pytest.mark.slow
def test_examples_get_their_expected_scores(graded):
    lab, _, scores = graded
    total = submissions.total_points(lab)
    expected = submissions.expected_scores(lab, total)
    actual = {name: sum(per_test.values()) for name, per_test in scores.items()}
    assert actual == expected, f"{lab}: {scores}"


@pytest.mark.slow
def test_reference_answers_run_clean_and_take_every_point(graded):
    lab, root, scores = graded
    source = nbformat.read(course.source_notebook(lab), as_version=4)
    points = {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
              for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert scores["complete"] == points
    autograded = root / "autograded" / "complete" / lab / f"{lab}.ipynb"
    assert _errors_and_stderr(autograded) == []


@pytest.mark.slow
def test_untouched_lab_scores_zero_on_every_task(graded):
    lab, _, scores = graded
    assert scores["untouched"] and all(score == 0 for score in scores["untouched"].values())


@pytest.mark.slow
def test_partly_wrong_example_loses_exactly_on_its_mutated_tasks(graded):
    lab, _, scores = graded
    catalog = submissions.load_catalog(lab)
    mutations = [catalog.mutations[m] for m in catalog.examples["partly_wrong"]["mutations"]]
    must_lose = {test for m in mutations for test in m.loses}
    may_lose = must_lose | {test for m in mutations for test in m.may_lose}
    partly = scores["partly_wrong"]
    for test, score in partly.items():
        if test in must_lose:
            assert score < scores["complete"][test], f"{lab}: {test} should lose points"
        elif test not in may_lose:
            assert score == scores["complete"][test], f"{lab}: {test} lost points collaterally"


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
