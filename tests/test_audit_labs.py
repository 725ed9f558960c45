"""Issue 6 enforced: every lab's graders, proven with the real autograder.

For each lab, :func:`flowlab.audit.audit_lab` grades every catalog entry (wrong answers packed into
shared notebooks where their verdicts stay separable, anything surprising graded again alone), the
reference at seeds 0-4 and the partly wrong example three times. Any wrong answer that survives or
spills onto an undeclared test, any correct variant short of full marks, any seed short of full
marks, any change in a repeated score, or a threshold the reference does not clear fails here.
"""

import pytest

from flowlab import audit, course, submissions

LABS = course.lab_names()


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_every_catalog_entry_seed_and_repeat_holds(lab, tmp_path):
    result = audit.audit_lab(lab, tmp_path, workers=2)
    print("\n" + audit.report([result]))
    catalog = submissions.load_catalog(lab)
    assert sorted(v.mutation.id for v in result.entries) == sorted(catalog.mutations)
    assert sorted(result.seeds) == [0, 1, 2, 3, 4]
    assert len(result.repeats) == 3
    assert result.failures() == []
