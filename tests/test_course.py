"""The course's generated files stay in step with their source, the reference solutions."""

import nbformat
import pytest

from flowlab import course
from flowlab.course import submissions

LABS = course.lab_names()


def test_every_lab_has_its_student_version_catalog_and_examples():
    assert LABS[0] == "lab01_bijectors"
    for lab in LABS:
        assert course.release_notebook(lab).is_file(), f"{lab}: run `flowlab build`"
        assert (submissions.CATALOGS / f"{lab}.toml").is_file(), f"{lab} has no catalog"


@pytest.mark.slow
def test_labs_match_what_nbgrader_generates_from_solutions():
    assert course.drifted_labs() == {}


def test_drift_check_notices_a_hand_edit(tmp_path):
    lab = LABS[0]
    edited = nbformat.read(course.release_notebook(lab), as_version=4)
    edited.cells[0].source += "\nEdited by hand."
    (tmp_path / lab).mkdir()
    nbformat.write(edited, tmp_path / lab / f"{lab}.ipynb")
    problems = course.drifted_labs([lab], release=tmp_path)
    assert "first at cell 0" in problems[lab]


def test_student_labs_hide_solutions_and_hidden_tests():
    for lab in LABS:
        text = course.release_notebook(lab).read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
            assert marker not in text, f"{lab}'s student notebook contains {marker!r}"
        assert "raise NotImplementedError()" in text


@pytest.mark.parametrize("lab", LABS)
def test_catalog_is_valid_and_tied_to_graded_tasks(lab):
    catalog = submissions.load_catalog(lab)
    assert "partly_wrong" in catalog.examples
    tests = {cell.metadata["nbgrader"]["grade_id"]
             for cell in nbformat.read(course.source_notebook(lab), as_version=4).cells
             if cell.metadata.get("nbgrader", {}).get("grade")}
    for mutation in catalog.mutations.values():
        assert set(mutation.loses) | set(mutation.may_lose) <= tests, mutation.id


@pytest.mark.parametrize("lab", LABS)
def test_committed_examples_are_the_catalog_applied_to_the_reference(lab):
    for name, generated in submissions.example_submissions(lab).items():
        path = submissions.EXAMPLES / lab / f"{name}.ipynb"
        assert path.is_file(), f"missing {path}; run `flowlab examples`"
        committed = nbformat.read(path, as_version=4)
        assert [c.source for c in committed.cells] == [c.source for c in generated.cells], (
            f"{path} is out of date; run `flowlab examples {lab}`")


def test_a_catalog_entry_that_does_not_match_the_reference_is_reported(tmp_path, monkeypatch):
    (tmp_path / "lab01_bijectors.toml").write_text(
        '[[mutation]]\nid = "typo"\ntask = "make_moons"\nkind = "wrong"\ndescription = "x"\n'
        'old = "make_mooons("\nnew = "y"\nloses = ["make_moons_test"]\n')
    monkeypatch.setattr(submissions, "CATALOGS", tmp_path)
    with pytest.raises(ValueError, match="occurs 0 times"):
        submissions.load_catalog("lab01_bijectors")


def test_unknown_lab_names_the_labs():
    with pytest.raises(ValueError, match="lab01_bijectors"):
        course.check_lab("lab99")



def test_validate_in_jupyterlab_started_in_the_clone_uses_the_course_cell_timeout(monkeypatch):
    # The Validate button's server handler loads its config this way, from the folder JupyterLab
    # was started in (the README's `jupyter lab labs/` in the clone). nbgrader's default is 30 s.
    from nbgrader.server_extensions.validate_assignment.handlers import ValidateAssignmentHandler
    from traitlets.config.loader import PyFileConfigLoader

    course_config = PyFileConfigLoader(course.CONFIG.name, str(course.CONFIG.parent)).load_config()
    monkeypatch.chdir(course.ROOT)
    validate_config = ValidateAssignmentHandler.load_config(None)
    assert validate_config.Execute.timeout == course_config.Execute.timeout >= 300
