"""The trusted-grading pieces without a kernel: the evidence codec, verifier loading, and how a
verdict becomes nbgrader's score."""

import json

import grading_fixtures as gf
import nbformat
import numpy as np
import pytest
from nbgrader.utils import determine_grade

from flowlab import evidence
from flowlab.course.grading import batch, trusted, verifier


def test_arrays_round_trip_without_pickle():
    for array in (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([True, False]),
                  np.array(7, dtype=np.int64)):
        back = evidence.decode_array(evidence.encode_array(array))
        assert back.dtype == array.dtype and np.array_equal(back, array)


@pytest.mark.parametrize("spec, problem", [
    ({"dtype": "|O", "shape": [1], "data": ""}, "not accepted"),
    ({"dtype": "<f8", "shape": [3], "data": "AAAAAAAAAAA="}, "do not match"),
    ({"dtype": "<f8", "shape": [-1], "data": ""}, "too large or malformed"),
    ({"shape": [1]}, "malformed array"),
])
def test_bad_arrays_are_refused(spec, problem):
    with pytest.raises(evidence.EvidenceError, match=problem):
        evidence.decode_array(spec)


def test_every_expression_answers_even_when_it_raises():
    request = {"probes": {"a": evidence.encode_array(np.array([1.0, 2.0]))},
               "items": {"double": "f(_P.a)", "kind": "_kind(f)", "missing": "g(1)",
                         "ragged": "[_np.zeros(2), _np.ones((2, 2))]", "text": "'hi'"}}
    raw = evidence.evaluate(request, {"f": lambda x: 2 * x})
    decoded = evidence.decode(json.loads(json.dumps(raw)))
    assert np.array_equal(decoded["double"], [2.0, 4.0])
    assert decoded["kind"][0] == "builtins.function"
    assert isinstance(decoded["missing"], evidence.EvidenceError)
    assert "NameError" in str(decoded["missing"])
    assert [a.shape for a in decoded["ragged"]] == [(2,), (2, 2)]
    assert decoded["text"] == "hi"


def test_malformed_evidence_is_an_error_not_a_crash():
    decoded = evidence.decode({"a": {"pickle": "x"}, "b": "nonsense", "c": {"array": {"dtype": 3}}})
    assert all(isinstance(value, evidence.EvidenceError) for value in decoded.values())


def test_verifier_must_exist_and_cover_every_graded_cell(tmp_path):
    with pytest.raises(verifier.VerifierError, match="No verifier for lab00_tiny"):
        verifier.load(gf.LAB, tmp_path)
    source = gf.write_tiny_source(tmp_path / "source")
    with pytest.raises(verifier.VerifierError, match=r"no task for the graded cells \['test_div'\]"):
        verifier.load(gf.LAB, gf.verifiers(source), ["test_add", "test_div"])


def _tiny_verifier(tmp_path):
    source = gf.write_tiny_source(tmp_path / "source")
    return verifier.load(gf.LAB, gf.verifiers(source), ["test_add", "test_mul"])


def test_judge_messages_and_missing_evidence(tmp_path):
    tiny = _tiny_verifier(tmp_path)
    probes = tiny.probes(seed=1)
    right = {"sums": probes["a"] + probes["b"]}
    assert tiny.judge("test_add", right, probes) == (True, "")
    wrong = {"sums": probes["a"] - probes["b"]}
    assert tiny.judge("test_add", wrong, probes) == (False, "add(1, 2) should be 3")
    missing = {"sums": evidence.EvidenceError("NameError: name 'add' is not defined")}
    passed, message = tiny.judge("test_add", missing, probes)
    assert not passed and "name 'add' is not defined" in message
    assert not np.array_equal(tiny.probes(seed=2)["a"], probes["a"])


def _graded_cell(outputs):
    cell = nbformat.v4.new_code_cell("checks.expect(add(1, 2) == 3, '...')")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test_add",
                                 "points": 2, "locked": True, "schema_version": 3}
    cell.outputs = outputs
    return cell


def _apply(tmp_path, cell, values):
    tiny = _tiny_verifier(tmp_path)
    nb = nbformat.v4.new_notebook(cells=[cell])
    resources = {"flowlab": {"verifier": tiny, "probes": tiny.probes(3), "seed": 3,
                             "evidence": {"test_add": values(tiny.probes(3))}}}
    report = tmp_path / "verdicts.json"
    trusted.ApplyVerdicts(report=str(report)).preprocess(nb, resources)
    return nb.cells[0], json.loads(report.read_text())["verdicts"]["test_add"]


def test_a_passing_verdict_scores_full_marks_whatever_the_cell_raised(tmp_path):
    error = nbformat.v4.new_output("error", ename="AssertionError", evalue="x", traceback=[])
    stderr = nbformat.v4.new_output("stream", name="stderr", text="warning")
    cell, verdict = _apply(tmp_path, _graded_cell([error, stderr]),
                           lambda p: {"sums": p["a"] + p["b"]})
    assert determine_grade(cell) == (2, 2)
    assert verdict["passed"] and verdict["notebook_failed"]
    # The cell's own error is gone from its outputs; its name stays for the grader's notes.
    assert verdict["raised"] == ["AssertionError"]
    assert batch.disagreements({"verdicts": {"test_add": verdict}}) == [
        "visible checks of test_add failed in the notebook, the trusted check passed"]


def test_a_failing_verdict_scores_zero_whatever_the_cell_showed(tmp_path):
    shown = nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)
    cell, verdict = _apply(tmp_path, _graded_cell([shown]), lambda p: {"sums": p["a"] * 0})
    assert determine_grade(cell) == (0, 2)
    assert cell.outputs[-1].ename == trusted.FAILED and "add(1, 2) should be 3" in cell.outputs[-1].evalue
    assert not verdict["passed"]


def test_no_evidence_is_a_failure(tmp_path):
    cell, verdict = _apply(tmp_path, _graded_cell([]),
                           lambda p: {"*": evidence.EvidenceError(trusted.NO_EVIDENCE)})
    assert determine_grade(cell) == (0, 2)
    assert "gave no answer" in verdict["message"]


def test_grader_refuses_a_source_with_hidden_tests(tmp_path):
    source = gf.write_tiny_source(tmp_path / "source")
    notebook = source / gf.LAB / f"{gf.LAB}.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    gf.cell_by_id(nb, "test_add").source += ("### BEGIN HIDDEN TESTS\nassert add(0, 0) == 0\n"
                                             "### END HIDDEN TESTS\n")
    nbformat.write(nb, notebook)
    (tmp_path / "subs").mkdir()
    with pytest.raises(batch.GradingError, match="hidden tests in test_add"):
        batch.grade(gf.LAB, tmp_path / "subs", tmp_path / "out",
                    batch.Options(source=source, verifiers=gf.verifiers(source), progress=False))
