"""Fast checks of the grading pieces that need no kernel: intake, tamper scan, feedback
filtering, output cap, shards, the zygote's preloading."""

import json
import subprocess
import sys
import zipfile

import grading_fixtures as gf
import nbformat
import pytest

from flowlab import course
from flowlab.course.grading import intake, launcher, shard, tamper, worker
from flowlab.course.grading.limits import CapOutput, cap_text


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The tiny lab's student version, made the way nbgrader would."""
    source = gf.write_tiny_source(tmp_path_factory.mktemp("units"))
    nb = nbformat.read(source / gf.LAB / f"{gf.LAB}.ipynb", as_version=4)
    for cell in nb.cells:
        if "### BEGIN SOLUTION" in cell.source:
            head = cell.source.split("### BEGIN SOLUTION")[0]
            cell.source = head + "# YOUR CODE HERE\n    raise NotImplementedError()\n"
    path = tmp_path_factory.mktemp("release") / "release.ipynb"
    nbformat.write(nb, path)
    return path


def names(found):
    return {s.student: (s.status, s.label) for s in found}


def test_folder_ids_from_file_names(tmp_path, release):
    for name in ("alice.ipynb", "bob_lab00.ipynb", "carol_12345_678_lab00_tiny.ipynb", "notes.txt"):
        (tmp_path / name).write_text("{}")
    found = intake.collect(tmp_path, gf.LAB)
    assert names(found) == {"alice": ("", "alice.ipynb"), "bob": ("", "bob_lab00.ipynb"),
                            "carol": ("", "carol_12345_678_lab00_tiny.ipynb")}


def test_custom_pattern_and_its_errors(tmp_path):
    (tmp_path / "lab00 - s1234567 - Alice.ipynb").write_text("{}")
    found = intake.collect(tmp_path, gf.LAB, r"- (?P<student>s\d+) -")
    assert [s.student for s in found] == ["s1234567"]
    with pytest.raises(intake.IntakeError, match="named group"):
        intake.collect(tmp_path, gf.LAB, r"(s\d+)")
    with pytest.raises(intake.IntakeError, match="not a valid regular expression"):
        intake.collect(tmp_path, gf.LAB, r"(?P<student>")


def test_unusable_and_duplicate_ids(tmp_path):
    (tmp_path / "Alice Smith.ipynb").write_text("{}")
    (tmp_path / "bob_1.ipynb").write_text("{}")
    (tmp_path / "bob_2.ipynb").write_text("{}")
    found = {s.student: s for s in intake.collect(tmp_path, gf.LAB)}
    assert found["Alice Smith"].status == "invalid" and "characters" in found["Alice Smith"].reason
    assert found["bob"].status == "invalid" and "2 files give student id 'bob'" in found["bob"].reason


def test_zip_with_top_folder_and_escaping_entries(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("export/alice.ipynb", "{}")
        zipped.writestr("export/bob_x.ipynb", "{}")
        zipped.writestr("../evil.ipynb", "{}")
        zipped.writestr("__MACOSX/export/._alice.ipynb", "junk")
    found = intake.collect(archive, gf.LAB, unpack_to=tmp_path / "unzipped")
    assert sorted(s.student for s in found) == ["alice", "bob"]
    assert not (tmp_path / "evil.ipynb").exists()


def test_nbgrader_submitted_layout(tmp_path):
    root = tmp_path / "submitted"
    (root / "alice" / gf.LAB).mkdir(parents=True)
    (root / "alice" / gf.LAB / f"{gf.LAB}.ipynb").write_text("{}")
    (root / "bob" / gf.LAB).mkdir(parents=True)
    (root / "bob" / gf.LAB / "renamed.ipynb").write_text("{}")
    (root / "carl" / gf.LAB).mkdir(parents=True)
    found = {s.student: s for s in intake.collect(tmp_path, gf.LAB)}
    assert found["alice"].label == f"submitted/alice/{gf.LAB}/{gf.LAB}.ipynb"
    assert found["bob"].path.name == "renamed.ipynb"
    assert found["carl"].status == "invalid" and f"no {gf.LAB}.ipynb" in found["carl"].reason


def test_missing_submissions_is_a_clear_error(tmp_path):
    with pytest.raises(intake.IntakeError, match="does not exist"):
        intake.collect(tmp_path / "nope", gf.LAB)


def test_untouched_and_honest_submissions_raise_no_flags(release):
    nb = nbformat.read(release, as_version=4)
    assert tamper.scan(nb, nb) == []
    answer = gf.submission(release, add="    import numpy as np\n    x = np.zeros(2)\n"
                                        "    x[0] = a\n    return float(x[0] + b)\n")
    assert tamper.scan(answer, nb) == []


@pytest.mark.parametrize("code, flag", [
    ("import numpy as np\nnp.testing.assert_allclose = print", "patches module attribute np.testing"),
    ("from flowlab import checks\nsetattr(checks, 'expect', print)", "setattr() on module checks"),
    ("import builtins\nbuiltins.print = None", "imports builtins"),
    ("__builtins__['len'] = None", "reads cell history or builtins __builtins__"),
    ("import sys\nsys.modules['flowlab.checks'] = None", "interpreter hook sys.modules"),
    ("import sys\nsys.setprofile(print)", "interpreter hook sys.setprofile"),
    ("exec('x = 1')", "dynamic code exec() (not checked)"),
    ("get_ipython().events.register('pre_run_cell', print)", "IPython hook"),
    ("from unittest import mock\nmock.patch('flowlab.checks.expect').start()", "mock patching"),
    ("%load_ext foo", "IPython magic or shell command %load_ext"),
    ("def f(:\n  pass", "code that does not parse (not checked)"),
    ("checks = None", "rebinds imported name checks"),
    ("import inspect\ninspect.currentframe().f_back.f_globals['x'] = 1", "frame introspection"),
])
def test_code_scan_names_what_it_found(release, code, flag):
    nb = gf.submission(release, extra=code)
    flags = tamper.scan(nb, nbformat.read(release, as_version=4))
    assert any(flag in f and "(cell answer_add)" in f for f in flags), flags


def test_renamed_graded_cell_is_flagged_and_made_gradable(release):
    original = nbformat.read(release, as_version=4)
    nb = gf.submission(release)
    gf.cell_by_id(nb, "test_mul").metadata["nbgrader"]["grade_id"] = "test_mul_v2"
    flags = tamper.scan(nb, original)
    assert "unknown graded cell test_mul_v2 (renamed or added)" in flags
    assert "removed test cell test_mul" in flags
    cleaned = intake.for_grading(nb, original)
    assert "test_mul_v2" not in {gid for gid, _ in intake.graded_cells(cleaned)}


def test_validate_rejects_broken_files(tmp_path, release):
    nb = nbformat.read(release, as_version=4)
    cases = {"empty": b"", "text": b"hello", "json": b'{"a": 1}', "half": b'{"cells": ['}
    for name, data in cases.items():
        (tmp_path / f"{name}.ipynb").write_bytes(data)
    found = {s.student: s for s in intake.collect(tmp_path, gf.LAB)}
    for sub in found.values():
        assert intake.validate(sub, gf.LAB, nb) is None
        assert sub.status == "invalid" and sub.reason
    gf.write(gf.other_lab_notebook(), tmp_path / "other.ipynb")
    other = intake.Submission("other", tmp_path / "other.ipynb", "other.ipynb")
    assert intake.validate(other, gf.LAB, nb) is None and other.status == "wrong_lab"


def test_output_cap():
    assert cap_text("abc", 10) == "abc"
    capped = cap_text("x" * 1_000_000, 1000)
    assert len(capped) < 1200 and "999000 characters cut" in capped
    cell = nbformat.v4.new_code_cell("print('x' * 10**6)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * 10**6),
                    nbformat.v4.new_output("execute_result", data={"text/plain": "z" * 10**6},
                                           execution_count=1)]
    CapOutput(max_chars=500).preprocess_cell(cell, {}, 0)
    assert all(len(str(o.get("text", o.get("data")))) < 1000 for o in cell.outputs)


def test_shards_are_a_stable_partition():
    students = [f"s{i:03d}" for i in range(200)]
    slices = [shard.select(students, i, 4, key=str) for i in range(1, 5)]
    assert sorted(sum(slices, [])) == students
    assert all(30 < len(s) < 70 for s in slices)
    assert shard.select(students + ["new"], 2, 4, key=str)[:len(slices[1])] == slices[1]


def test_kernel_environment_is_allow_listed_and_caps_malloc_arenas():
    env = launcher.kernel_environment({"PATH": "/usr/bin", "AWS_SECRET_ACCESS_KEY": "x",
                                       "MALLOC_ARENA_MAX": "64"}, sandboxed=True)
    assert env["PATH"] == "/usr/bin" and "AWS_SECRET_ACCESS_KEY" not in env
    # A TensorFlow kernel's reserved arenas would otherwise count against RLIMIT_AS.
    assert env["MALLOC_ARENA_MAX"] == "2"
    assert env["HOME"] == "/tmp"


def test_kernels_graded_side_by_side_share_out_the_cores(monkeypatch, tmp_path):
    monkeypatch.setattr(worker.os, "sched_getaffinity", lambda pid: {0, 1})
    assert [worker.threads_per_kernel(n) for n in (1, 2, 3)] == [2, 1, 1]
    job = worker.Job("lab01_bijectors", "s", tmp_path / "s.ipynb", tmp_path, tmp_path, tmp_path,
                     worker.Limits(), "k", tmp_path, tmp_path, threads=1)
    names = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    kernel_env = launcher.kernel_environment(worker.runner_env(job, tmp_path), sandboxed=True)
    assert {kernel_env[name] for name in names} == {"1"}
    # An instructor's own setting wins.
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert worker.runner_env(job, tmp_path)["OMP_NUM_THREADS"] == "4"


PRELOAD_THEN_FORK = """
import os, sys
lab, folder, wants_tensorflow = sys.argv[1], sys.argv[2], sys.argv[3] == "yes"
os.environ.update(FLOWLAB_PRELOAD_LAB=lab, FLOWLAB_PRELOAD_VERIFIERS=folder)
from flowlab.course.grading import zygote
zygote.preload_verifier()
if ("tensorflow" in sys.modules) != wants_tensorflow:
    sys.exit(f"after preloading {lab}'s verifier, TensorFlow loaded: {'tensorflow' in sys.modules}")
if wants_tensorflow:
    pid = os.fork()
    if pid == 0:
        import tensorflow as tf
        os._exit(0 if float(tf.reduce_sum(tf.ones([3]))) == 3.0 else 3)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.parametrize(("lab", "wants_tensorflow"), [("lab01_bijectors", False),
                                                       ("lab05_beyond_affine", True),
                                                       ("lab06_inference", True)])
def test_the_zygote_loads_tensorflow_once_for_verifiers_that_use_it(lab, wants_tensorflow):
    # Labs 05 and 06 judge with TensorFlow: loaded before forking, each grading process saves ~5 s,
    # and a forked child must run ops. Lab 01 judges with NumPy: loading it would only cost time.
    finished = subprocess.run([sys.executable, "-c", PRELOAD_THEN_FORK, lab,
                               str(course.AUTOGRADER / "verifiers"),
                               "yes" if wants_tensorflow else "no"],
                              capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stdout + finished.stderr[-2000:]


WATCHED = """
import json, os, sys
from flowlab.course.grading import launcher
os.environ[launcher.REPORT_VARIABLE] = sys.argv[1]
child = launcher._start([sys.executable, "-c", sys.argv[2]], dict(os.environ))
print(launcher.watch(child, int(sys.argv[3]) << 20, None))
"""


@pytest.mark.parametrize("code, cap_mb, died", [
    # Holds about 300 MiB for a while, then dies as a kernel does when an allocation fails in C.
    ("import os, time\nhoard = bytearray(300 << 20)\ntime.sleep(1.0)\nos.abort()", 512, True),
    ("import os\nos._exit(3)", 4096, True),
    ("pass", 4096, False)])
def test_the_launcher_reports_how_a_kernel_died_and_how_much_it_held(tmp_path, code, cap_mb, died):
    report = tmp_path / "events.jsonl"
    run = subprocess.run([sys.executable, "-c", WATCHED, str(report), code, str(cap_mb)],
                         capture_output=True, text=True, timeout=60, check=True)
    exit_code = int(run.stdout.split()[-1])
    if not died:
        assert exit_code == 0 and not report.exists()
        return
    event = json.loads(report.read_text().splitlines()[-1])
    assert event["event"] == "died" and event["code"] == exit_code != 0
    assert event["cap_mb"] == cap_mb
    if cap_mb == 512:
        assert 300 <= event["address_space_mb"] < 512


def test_a_dead_kernel_is_explained_in_words():
    near = {"event": "died", "code": 134, "address_space_mb": 1000, "cap_mb": 1024}
    assert worker.died_note(near).startswith(
        "the kernel ended on signal SIGABRT after its memory reached 1000 MiB of the 1024 MiB memory cap")
    assert worker.died_note(dict(near, address_space_mb=300)) == "the kernel ended on signal SIGABRT"
    assert worker.died_note({"event": "died", "code": 3, "cap_mb": 1024}) == "the kernel ended with code 3"
