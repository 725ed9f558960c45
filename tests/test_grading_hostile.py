"""One batch of hostile submissions of the tiny lab, graded with 2 workers under tight limits.

Each bad-input and tampering case must get its status, score and flag, nothing outside the
sandbox may be read or changed, and the honest students in the same batch keep their scores.
"""

import hashlib
from pathlib import Path

import grading_fixtures as gf
import nbformat
import pytest

from flowlab import course
from flowlab.course.grading import batch, gradebook, trusted
from flowlab.course.grading.limits import Limits
from flowlab.course.grading.sandbox import detect
from flowlab.course.grading.worker import make_template

pytestmark = pytest.mark.slow
# 10 s a cell: zeroing the memory bomb's 1 GiB takes up to 4 s while endless loops of the same
# batch hold the other core.
LIMITS = Limits(cell_timeout=10, notebook_timeout=90, memory_mb=1024, output_chars=2000)


def tree_digest(*roots: Path) -> str:
    """A hash of every file under ``roots`` (names and bytes)."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if detect().kind != "bwrap":
        pytest.skip("bubblewrap is not available here (run autograder/install-sandbox.sh)")
    tmp = tmp_path_factory.mktemp("hostile")
    source = gf.write_tiny_source(tmp / "source")
    release = make_template(gf.LAB, source, tmp / "template") / "release" / gf.LAB / f"{gf.LAB}.ipynb"
    canary = tmp / "canary.txt"
    canary.write_text("untouched")
    out = tmp / "out"
    submissions = tmp / "submissions"
    secrets = [gf.verifiers(source) / f"{gf.LAB}.py",  # the trusted checks
               course.VERIFIERS,                        # the course's trusted checks
               source / gf.LAB / f"{gf.LAB}.ipynb",     # the source notebook
               submissions / "alice.ipynb",             # another student's submission
               out / "course" / "gradebook.db",         # the course gradebook
               course.CONFIG,                           # the nbgrader config
               course.SOLUTIONS,                        # the course's solutions folder
               out / ".template" / "course" / "gradebook.db"]
    cases = gf.hostile_batch(release, submissions, secrets, canary)
    # Only folders this test owns: other people edit solutions/ and autograder/ meanwhile; the
    # snoop reports that its reads of those failed.
    before = tree_digest(source, submissions)
    summary = batch.grade(gf.LAB, submissions, out,
                          batch.Options(workers=2, source=source, verifiers=gf.verifiers(source),
                                        limits=LIMITS, progress=False))
    return {"out": out, "rows": gf.read_csv(out / "grades.csv"), "summary": summary,
            "cases": cases, "canary": canary, "before": before,
            "after": tree_digest(source, submissions)}


def row(graded, student):
    return graded["rows"][student]


@pytest.mark.parametrize("student, total, test_mul", [
    ("alice", "5", "3"), ("bob", "2", "0"), ("zoe", "0", "0"), ("hidden", "2", "0")])
def test_honest_students_keep_their_scores(graded, student, total, test_mul):
    r = row(graded, student)
    assert (r["status"], r["total"], r["test_mul"], r["flags"]) == ("graded", total, test_mul, "")


def test_every_case_has_a_row(graded):
    assert set(graded["rows"]) == set(graded["cases"])
    assert graded["summary"].total == len(graded["cases"])


@pytest.mark.parametrize("student, status, reason", [
    ("empty", "invalid", "is empty"),
    ("badjson", "invalid", "not valid notebook JSON"),
    ("notnb", "invalid", "not a valid Jupyter notebook"),
    ("wronglab", "wrong_lab", "is not a lab00_tiny notebook"),
    ("dup", "invalid", "2 files give student id 'dup'"),
    ("exiter", "crashed", "kernel died"),
    ("segv", "crashed", "kernel died"),
    ("stubborn", "timeout", "did not stop when interrupted"),
])
def test_ungradable_cases_say_why_and_have_no_score(graded, student, status, reason):
    r = row(graded, student)
    assert r["status"] == status
    assert reason in r["reason"]
    assert r["total"] == "" and r["test_add"] == ""


def test_endless_loop_is_cut_at_the_cell_limit(graded):
    r = row(graded, "looper")
    # The loop sits before `def add`, so add's test fails; mul's answer still earns its 3 points.
    assert (r["status"], r["total"], r["test_add"], r["test_mul"]) == ("graded", "3", "0", "3")
    assert "10 s cell time limit" in r["reason"]


def test_memory_bomb_hits_the_cap(graded):
    r = row(graded, "bomb")
    assert r["status"] == "graded" and r["test_add"] == "0"
    assert "1024 MiB memory cap" in r["reason"]


def test_a_kept_hoard_is_named_as_the_likely_cause_of_later_failures(graded):
    # Its later cells fail with whatever an allocation at the cap gives (an ImportError, here).
    r = row(graded, "hoarder")
    assert r["status"] in ("graded", "crashed"), r["reason"]
    assert "of the 1024 MiB memory cap" in r["reason"]
    assert r["total"] in ("0", "")


def test_a_kernel_that_dies_at_the_cap_is_said_to_have_run_out_of_memory(graded):
    r = row(graded, "aborter")
    assert r["status"] == "crashed" and "on signal SIGABRT after its memory reached" in r["reason"]
    assert "running out of memory is the likely cause" in r["reason"]


@pytest.mark.parametrize("student, ending", [
    ("exiter", "the kernel ended with code 3"), ("segv", "the kernel ended on signal SIGSEGV")])
def test_a_dead_kernel_says_how_it_ended(graded, student, ending):
    r = row(graded, student)
    assert ending in r["reason"] and "memory cap" not in r["reason"]


def test_huge_output_is_capped(graded):
    r = row(graded, "shouty")
    assert (r["status"], r["total"]) == ("graded", "5")
    assert (graded["out"] / "feedback" / "shouty.html").stat().st_size < 300_000
    autograded = graded["out"] / "course" / "autograded" / "shouty" / gf.LAB / f"{gf.LAB}.ipynb"
    assert autograded.stat().st_size < 50_000
    assert "output truncated by the grader" in autograded.read_text()


@pytest.mark.parametrize("student, total, flag", [
    ("deleter", "2", "removed test cell test_mul"),
    ("twin", "5", "duplicated graded cell answer_add (2 copies)"),
    ("shuffler", "2", "reordered graded cells"),
    ("greedy", "2", "edited nbgrader metadata of test_mul (points 3->30)"),
    ("editor", "2", "changed test cell test_mul"),
    ("patcher", "0", "patches module attribute checks.expect (cell answer_add)"),
    ("tracer", "5", "interpreter hook sys.settrace (cell answer_add)"),
    ("historian", "5", "reads cell history or builtins In (cell answer_mul)"),
    ("exiter", None, "interpreter hook os._exit (cell answer_add)"),
    ("stubborn", None, "interpreter hook signal.signal (cell answer_add)"),
])
def test_tampering_is_flagged_and_still_graded(graded, student, total, flag):
    r = row(graded, student)
    assert flag in r["flags"].split("; ")
    if total is not None:
        assert (r["status"], r["total"]) == ("graded", total)


def test_cells_after_the_last_test_are_not_run(graded):
    # They cannot change a score (evidence is taken right after each test), so the grader skips
    # them and says so in the cell.
    r = row(graded, "trailer")
    assert (r["status"], r["total"]) == ("graded", "5")
    autograded = graded["out"] / "course" / "autograded" / "trailer" / gf.LAB / f"{gf.LAB}.ipynb"
    last = nbformat.read(autograded, as_version=4).cells[-1]
    assert [output.get("text") for output in last.outputs] == [trusted.NOT_RUN_NOTE]


def test_restored_tests_grade_the_real_answers(graded):
    # nbgrader restores edited test cells and their points from the gradebook: the wrong mul of
    # `greedy` (points edited to 30) and `editor` (test replaced by `pass`) earns nothing.
    assert row(graded, "greedy")["test_mul"] == "0"
    assert row(graded, "editor")["test_mul"] == "0"


def test_sandbox_blocked_reads_writes_and_network(graded):
    feedback = (graded["out"] / "feedback" / "snoop.html").read_text()
    assert "LEAKED 0 WROTE 0 NET blocked" in feedback
    assert row(graded, "snoop")["total"] == "5"
    assert graded["canary"].read_text() == "untouched"
    assert graded["before"] == graded["after"]
    assert "alice" in gradebook.students(graded["out"] / "course", gf.LAB)


def test_trusted_checks_never_reach_the_kernel_but_feedback_says_what_failed(graded):
    feedback = graded["out"] / "feedback"
    for page in feedback.glob("*.html"):
        assert gf.SECRET not in page.read_text(), page.name
    hidden = (feedback / "hidden.html").read_text()
    assert "mul(-2, 4) should be -8" in hidden
    # The historian printed `In`: it holds the evidence requests, never the checks themselves.
    for autograded in (graded["out"] / "course" / "autograded").rglob("*.ipynb"):
        assert gf.SECRET not in autograded.read_text(), autograded


def test_gradebook_holds_exactly_the_graded_students(graded):
    graded_rows = {s for s, r in graded["rows"].items() if r["status"] == "graded"}
    assert set(gradebook.students(graded["out"] / "course", gf.LAB)) == graded_rows
    for student in graded_rows:
        assert (graded["out"] / "feedback" / f"{student}.html").is_file()


def test_summary_counts(graded):
    summary = graded["summary"]
    assert summary.graded + summary.failed == summary.total
    assert summary.failed == sum(1 for r in graded["rows"].values() if r["status"] != "graded")
    assert summary.flagged == sum(1 for r in graded["rows"].values() if r["flags"])
    assert not summary.warnings
