"""Batch behaviour of ``flowlab grade`` on the tiny lab: determinism across worker counts, resume,
shards and merge, the notebook time limit, Ctrl-C, and the unsandboxed fallback."""

import os
import shutil
import signal
import subprocess
import sys
import time

import grading_fixtures as gf
import pytest

from flowlab.course.grading import batch, gradebook, merge, report, shard
from flowlab.course.grading.limits import Limits
from flowlab.course.grading.sandbox import detect

pytestmark = pytest.mark.slow
LIMITS = Limits(cell_timeout=10, notebook_timeout=120, memory_mb=1024, output_chars=2000)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch")
    source, template, release = gf.tiny_course(tmp)
    subs = tmp / "submissions"
    gf.write(gf.submission(release), subs / "alice.ipynb")
    gf.write(gf.submission(release, mul="    return a + b\n"), subs / "bob_lab00.ipynb")
    (subs / "carol.ipynb").write_text("")
    gf.write(gf.submission(release, extra="import os\nos._exit(1)"), subs / "dave.ipynb")
    gf.write(gf.submission(release, add=gf.WRONG, mul=gf.WRONG,
                           extra="from flowlab import checks\nchecks.expect = print"),
             subs / "erin.ipynb")
    gf.write(gf.other_lab_notebook(), subs / "frank.ipynb")
    return {"tmp": tmp, "source": source, "template": template, "release": release, "subs": subs}


def run(lab, out, submissions=None, **options):
    if not (out / ".template").exists():
        gf.seed_template(out, lab["source"], lab["template"])
    options.setdefault("limits", LIMITS)
    return batch.grade(gf.LAB, submissions or lab["subs"], out,
                       batch.Options(source=lab["source"], verifiers=gf.verifiers(lab["source"]),
                                     progress=False, export=False, **options))


@pytest.fixture(scope="module")
def one_and_two(lab):
    one = lab["tmp"] / "one"
    two = lab["tmp"] / "two"
    return {"one": (one, run(lab, one, workers=1)), "two": (two, run(lab, two, workers=2))}


def test_two_workers_give_byte_identical_grades(one_and_two):
    (one, _), (two, _) = one_and_two["one"], one_and_two["two"]
    assert (one / "grades.csv").read_bytes() == (two / "grades.csv").read_bytes()
    rows = gf.read_csv(one / "grades.csv")
    assert {s: (r["status"], r["total"]) for s, r in rows.items()} == {
        "alice": ("graded", "5"), "bob": ("graded", "2"), "carol": ("invalid", ""),
        "dave": ("crashed", ""), "erin": ("graded", "0"), "frank": ("wrong_lab", "")}
    # erin's wrong answers switched the notebook's checks off: flagged, and scored as wrong.
    assert "patches module attribute checks.expect" in rows["erin"]["flags"]
    assert gradebook.students(one / "course", gf.LAB) == gradebook.students(two / "course", gf.LAB) \
        == ["alice", "bob", "erin"]


def test_rerun_grades_only_new_or_changed(lab, one_and_two):
    subs = lab["tmp"] / "resubmitted"
    shutil.copytree(lab["subs"], subs)
    out = lab["tmp"] / "resume"
    shutil.copytree(one_and_two["two"][0], out)
    first = (out / "grades.csv").read_bytes()
    again = run(lab, out, submissions=subs, workers=2)
    assert again.skipped == 6 and (out / "grades.csv").read_bytes() == first
    gf.write(gf.submission(lab["release"]), subs / "bob_lab00.ipynb")   # bob fixes mul
    fixed = run(lab, out, submissions=subs, workers=2)
    assert fixed.skipped == 5
    assert gf.read_csv(out / "grades.csv")["bob"]["total"] == "5"
    forced = run(lab, out, submissions=subs, workers=2, force=True)
    assert forced.skipped == 0 and forced.total == 6


def test_shards_partition_and_merge_to_the_same_grades(lab, one_and_two):
    parts = [lab["tmp"] / f"shard{i}" for i in (1, 2)]
    for i, out in enumerate(parts, start=1):
        run(lab, out, workers=1, shard=(i, 2))
    students = [set(gf.read_csv(p / "grades.csv")) for p in parts]
    assert not students[0] & students[1]
    assert students[0] | students[1] == {"alice", "bob", "carol", "dave", "erin", "frank"}
    merged = lab["tmp"] / "merged"
    merge.merge(merged, parts)
    assert (merged / "grades.csv").read_bytes() == (one_and_two["one"][0] / "grades.csv").read_bytes()
    assert gradebook.students(merged / "course", gf.LAB) == ["alice", "bob", "erin"]
    assert sorted(p.stem for p in (merged / "feedback").glob("*.html")) == ["alice", "bob", "erin"]


def test_shard_option_is_checked():
    assert shard.parse("2/8") == (2, 8)
    for bad in ("0/2", "3/2", "2", "a/b"):
        with pytest.raises(ValueError, match="--shard"):
            shard.parse(bad)


def test_notebook_time_limit_kills_the_run(lab):
    subs = lab["tmp"] / "slow"
    gf.write(gf.submission(lab["release"], extra="import time\ntime.sleep(600)"), subs / "sloth.ipynb")
    out = lab["tmp"] / "slow-out"
    started = time.monotonic()
    run(lab, out, submissions=subs, limits=Limits(cell_timeout=600, notebook_timeout=15))
    assert time.monotonic() - started < 120
    row = gf.read_csv(out / "grades.csv")["sloth"]
    assert row["status"] == "timeout" and "15 s notebook time limit" in row["reason"]
    assert "sloth" not in gradebook.students(out / "course", gf.LAB)


def test_without_sandbox_it_warns_loudly(lab):
    subs = lab["tmp"] / "plain"
    gf.write(gf.submission(lab["release"]), subs / "alice.ipynb")
    out = lab["tmp"] / "plain-out"
    summary = run(lab, out, submissions=subs, sandbox="none")
    assert any("WITHOUT a sandbox" in w for w in summary.warnings)
    assert "WITHOUT a sandbox" in (out / "summary.txt").read_text()
    row = gf.read_csv(out / "grades.csv")["alice"]
    assert (row["status"], row["total"], row["sandbox"]) == ("graded", "5", "none")


def _as_in_a_terminal():
    # A job started in the background by a non-interactive shell (`make test &`, nohup) inherits
    # SIGINT ignored, and Python then never turns Ctrl-C into KeyboardInterrupt; a terminal doesn't.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_leaves_a_consistent_gradebook_and_resumes(lab):
    if detect().kind != "bwrap":
        pytest.skip("needs bubblewrap")
    subs = lab["tmp"] / "many"
    for name in ("amy", "ben", "cat", "dan"):
        gf.write(gf.submission(lab["release"]), subs / f"{name}.ipynb")
    out = gf.seed_template(lab["tmp"] / "many-out", lab["source"], lab["template"])
    command = [sys.executable, "-m", "flowlab.course.cli", "grade", gf.LAB, str(subs), "--out", str(out),
               "--source", str(lab["source"]), "--verifiers", str(gf.verifiers(lab["source"])),
               "--no-progress",
               # The same limits as `run` below: other limits would (rightly) re-grade everyone.
               "--cell-timeout", str(LIMITS.cell_timeout), "--notebook-timeout",
               str(LIMITS.notebook_timeout), "--memory-mb", str(LIMITS.memory_mb),
               "--output-chars", str(LIMITS.output_chars)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=_as_in_a_terminal)
    deadline = time.monotonic() + 240
    while not list((out / "results").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output.decode()
    done = report.read_records(out)
    assert 1 <= len(done) < 4
    assert gradebook.students(out / "course", gf.LAB) == sorted(done)
    assert set(gf.read_csv(out / "grades.csv")) == set(done)
    summary = run(lab, out, submissions=subs)
    assert summary.skipped == len(done) and summary.graded == 4
    assert gradebook.students(out / "course", gf.LAB) == ["amy", "ben", "cat", "dan"]


def test_bad_lab_is_a_clear_error(lab, tmp_path):
    result = subprocess.run([sys.executable, "-m", "flowlab.course.cli", "grade", "lab99_nope",
                             str(lab["subs"]), "--out", str(tmp_path / "o"), "--source",
                             str(lab["source"])], capture_output=True, text=True,
                            env=dict(os.environ))
    assert result.returncode == 2
    assert "No lab 'lab99_nope'" in result.stderr and "lab00_tiny" in result.stderr
