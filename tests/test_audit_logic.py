"""The audit's bookkeeping, on made-up scores: packing, verdicts, regrading, margins, failures."""

import nbformat
import pytest

from flowlab.course import submissions
from flowlab.course.audit import plan, table, verdicts

POINTS = {"a_test": 2.0, "b_test": 2.0, "c_test": 3.0}


def _mutation(id, task, kind="wrong", loses=(), may_lose=()):
    return submissions.Mutation(id, task, kind, id, "old", "new", tuple(loses), tuple(may_lose))


def _graded(lost=(), status="graded", readings=()):
    scores = {test: (0.0 if test in lost else full) for test, full in POINTS.items()}
    return verdicts.Graded(status, "", scores, list(readings))


def test_pack_keeps_one_entry_per_task_and_separable_losses():
    a1 = _mutation("a1", "a", loses=["a_test"], may_lose=["c_test"])
    a2 = _mutation("a2", "a", loses=["a_test"])
    b1 = _mutation("b1", "b", loses=["b_test"])
    c1 = _mutation("c1", "c", loses=["c_test"])
    groups = plan.pack([a1, a2, b1, c1])
    assert [[m.id for m in g] for g in groups] == [["a1", "b1"], ["a2", "c1"]]


def test_a_killed_entry_with_only_declared_losses_passes():
    a1 = _mutation("a1", "a", loses=["a_test"], may_lose=["c_test"])
    [verdict] = verdicts.judge([a1], "wrong-01", _graded(lost={"a_test", "c_test"}), POINTS)
    assert verdict.ok and verdict.problem() == ""


def test_a_surviving_mutant_and_an_undeclared_loss_fail():
    a1 = _mutation("a1", "a", loses=["a_test"])
    [survivor] = verdicts.judge([a1], "wrong-01", _graded(lost=()), POINTS)
    assert not survivor.ok and "kept full points on a_test" in survivor.problem()
    [spill] = verdicts.judge([a1], "wrong-01", _graded(lost={"a_test", "b_test"}), POINTS)
    assert not spill.ok and "undeclared b_test" in spill.problem()


def test_a_correct_variant_must_keep_every_point():
    variant = _mutation("v", "a", kind="correct")
    assert verdicts.judge([variant], "correct-01", _graded(), POINTS)[0].ok
    [bad] = verdicts.judge([variant], "correct-01", _graded(lost={"c_test"}), POINTS)
    assert not bad.ok and "c_test" in bad.problem()


def test_a_crash_fails_the_entry():
    a1 = _mutation("a1", "a", loses=["a_test"])
    [crashed] = verdicts.judge([a1], "wrong-01", _graded(status="crashed"), POINTS)
    assert not crashed.ok and "crashed" in crashed.problem()


def test_a_shared_submission_with_a_surprise_is_regraded_one_by_one():
    a1 = _mutation("a1", "a", loses=["a_test"])
    b1 = _mutation("b1", "b", loses=["b_test"])
    expected = verdicts.judge([a1, b1], "wrong-01", _graded(lost={"a_test", "b_test"}), POINTS)
    assert not verdicts.needs_regrading(expected)
    surprise = verdicts.judge([a1, b1], "wrong-01", _graded(lost={"a_test", "b_test", "c_test"}),
                              POINTS)
    assert verdicts.needs_regrading(surprise)
    alone = verdicts.judge([a1], "alone-a1", _graded(lost={"a_test", "c_test"}), POINTS)
    assert not verdicts.needs_regrading(alone) and not alone[0].ok


def _audit(entries, seeds, repeats=(), expected=None, wrong_runs=None, untouched=None,
           repeat_group=()):
    if wrong_runs is None:
        wrong_runs = [([v.mutation], _graded(lost=set(v.mutation.loses))) for v in entries]
    untouched = _graded(lost=set(POINTS)) if untouched is None else untouched
    return verdicts.LabAudit("labx", ["a", "b", "c"], POINTS, entries, seeds, list(repeats),
                             list(repeat_group), expected, untouched, wrong_runs)


def _three_killed_per_task():
    entries = []
    for task in "abc":
        for index in range(3):
            mutation = _mutation(f"{task}{index}", task, loses=[f"{task}_test"])
            entries += verdicts.judge([mutation], "t", _graded(lost={f"{task}_test"}), POINTS)
    return entries


def test_failures_cover_seeds_repeats_thin_catalogs_and_the_untouched_notebook():
    entries = _three_killed_per_task()
    a0 = entries[0].mutation
    clean = _audit(entries, {0: _graded(), 1: _graded()}, [_graded({"a_test"})] * 3, 5.0,
                   repeat_group=[a0])
    assert clean.failures() == []
    flaky_seed = _audit(entries, {0: _graded(), 1: _graded(lost={"c_test"})})
    assert ["seed 1" in p for p in flaky_seed.failures()] == [True]
    noisy = _graded()
    noisy.cell_problems.append("cell #3 wrote to stderr: 'warning'")
    assert any("seed 0: cell #3 wrote to stderr" in p
               for p in _audit(entries, {0: noisy}).failures())
    flaky_repeat = _audit(entries, {0: _graded()}, [_graded({"a_test"}), _graded({"a_test"}),
                                                   _graded({"a_test", "c_test"})], 5.0,
                          repeat_group=[a0])
    problems = flaky_repeat.failures()
    assert any("[5.0, 5.0, 2.0]" in p for p in problems)
    assert any("grading 3" in p and "undeclared c_test" in p for p in problems)
    thin = _audit(entries[3:], {0: _graded()})
    assert any("task a has 0 wrong answers" in p for p in thin.failures())
    free_points = _audit(entries, {0: _graded()}, untouched=_graded(lost={"a_test", "b_test"}))
    assert any("untouched notebook got points on c_test" in p for p in free_points.failures())


def test_a_test_no_wrong_answer_fails_is_reported():
    entries = _three_killed_per_task()
    runs = [([v.mutation], _graded(lost={"a_test", "b_test"})) for v in entries]
    audit = _audit(entries, {0: _graded()}, wrong_runs=runs)
    assert audit.never_failed() == ["c_test"]
    assert any("c_test lost no points for any wrong answer" in p for p in audit.failures())


def test_margins_come_from_the_worst_seed_and_the_closest_wrong_answer():
    line = verdicts.Reading("c_test", "held-out NLL", 0.8, 1.2)
    seeds = {0: _graded(readings=[line]),
             1: _graded(readings=[verdicts.Reading("c_test", "held-out NLL", 0.95, 1.2)])}
    under = _mutation("one_epoch", "c", loses=["c_test"])
    other = _mutation("b1", "b", loses=["b_test"], may_lose=["c_test"])
    wrong = [([under], _graded({"c_test"}, readings=[verdicts.Reading("c_test", "held-out NLL",
                                                                       1.5, 1.2)])),
             ([other], _graded({"b_test"}, readings=[verdicts.Reading("c_test", "held-out NLL",
                                                                       1.25, 1.2)]))]
    [threshold] = verdicts.threshold_margins(seeds, wrong)
    assert threshold.reference_worst == 0.95 and threshold.margin == pytest.approx(0.25)
    assert (threshold.closest_wrong, threshold.closest_wrong_id) == (1.5, "one_epoch")
    over = _graded(readings=[verdicts.Reading("c_test", "x", 1.3, 1.2)])
    audit = _audit(_three_killed_per_task(), {0: over})
    assert any("not below 1.2" in p for p in audit.failures())
    text = table.report([audit])
    assert "FAILED" in text and "worst margin" in text and "-0.100" in text


def test_seeded_notebook_sets_the_seed_before_anything_runs():
    cell = nbformat.v4.new_code_cell("import os\nos.environ['X'] = '1'\nimport flowlab\n")
    notebook = plan.with_seed(nbformat.v4.new_notebook(cells=[cell]), 3)
    assert notebook.cells[0].source.startswith('import os\nos.environ["FLOWLAB_SEED"] = "3"\n')
    with pytest.raises(ValueError, match="set-up cell"):
        plan.with_seed(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), 3)


def test_an_unknown_lab_is_named_in_the_error(tmp_path):
    from flowlab.course import audit

    with pytest.raises(ValueError, match="Unknown labs \\['lab09_nope'\\]; the labs are lab01"):
        audit.main_audit(["lab09_nope"], tmp_path)
