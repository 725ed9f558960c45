"""Issue 6 enforced: every lab's graders, proven with the real autograder.

For each lab, :func:`flowlab.course.audit.audit_lab` grades every catalog entry (wrong answers packed into
shared notebooks where their verdicts stay separable, anything surprising graded again alone), the
reference at seeds 0-4, the partly wrong example three times and the untouched notebook. A wrong
answer that survives or spills onto an undeclared test, a correct variant short of full marks, a
seed short of full marks or with an error or stderr output, a repeated score that changes, a
threshold the reference does not clear, a test no wrong answer fails, or points for the untouched
notebook: any of these fails here, and the printed report says which.
"""

from pathlib import Path

import pytest

from flowlab import course
from flowlab.course import audit, submissions


@pytest.fixture(scope="module", params=course.lab_names())
def audited(request, tmp_path_factory):
    result = audit.audit_lab(request.param, tmp_path_factory.mktemp(request.param), workers=2)
    print("\n" + audit.report([result]))
    return result


@pytest.mark.slow
def test_every_graded_task_is_proven(audited):
    assert audited.failures() == []


@pytest.mark.slow
def test_the_audit_covers_the_whole_catalog_five_seeds_and_three_repeats(audited):
    catalog = submissions.load_catalog(audited.lab)
    assert sorted(v.mutation.id for v in audited.entries) == sorted(catalog.mutations)
    assert sorted(audited.seeds) == [0, 1, 2, 3, 4]
    assert len(audited.repeats) == 3 and audited.untouched is not None


@pytest.mark.slow
def test_feedback_is_written_without_hidden_test_code(audited):
    for student in ("seed-0", "repeat-1"):
        html = Path(audited.graded_dir) / "feedback" / f"{student}.html"
        assert html.is_file(), f"no feedback for {student}"
        assert "BEGIN HIDDEN TESTS" not in html.read_text()
