"""``flowlab grade``: grade every submission of one lab, in parallel, resumably.

Each student is graded in a scratch course of their own (see :mod:`.worker`); the main thread alone
writes the course gradebook in ``OUT/course``, the results and the feedback, one finished student
at a time, with Ctrl-C held off until that student is fully written. A student's result records a
key (hash of the submission, the lab source, the limits and the sandbox), so a second run grades
only what is new or changed.
"""

import contextlib
import fcntl
import hashlib
import json
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from tqdm import tqdm

from flowlab import course
from flowlab.course.grading import copyback, gradebook, intake, report, sandbox, shard, tamper, verifier
from flowlab.course.grading.limits import Limits
from flowlab.course.grading.worker import (
    Job,
    Outcome,
    Running,
    ZygotePool,
    grade_one,
    make_template,
    threads_per_kernel,
)


@dataclass
class Options:
    """How to grade (the CLI's options)."""

    workers: int = 1
    force: bool = False
    shard: tuple[int, int] | None = None
    pattern: str = intake.DEFAULT_PATTERN
    source: Path = course.SOLUTIONS
    verifiers: Path = course.VERIFIERS
    limits: Limits = field(default_factory=Limits)
    sandbox: str = "auto"
    progress: bool = True
    export: bool = True


class GradingError(RuntimeError):
    """The batch cannot start (bad lab, bad output folder, template failure)."""


@contextlib.contextmanager
def deferred_sigint():
    """Hold a Ctrl-C until the block is done, then raise it: a student is written whole or not."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


@contextlib.contextmanager
def locked(out: Path):
    """One ``flowlab grade`` per output folder at a time."""
    handle = open(out / ".lock", "w")  # noqa: SIM115  (held for the whole run)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise GradingError(f"Another `flowlab grade` is writing to {out}; wait for it or use "
                           "another --out.") from None
    try:
        yield
    finally:
        handle.close()


def source_notebook(source: Path, lab: str) -> Path:
    """``source/lab/lab.ipynb``, or a clear error naming the labs that are there."""
    path = Path(source) / lab / f"{lab}.ipynb"
    if not path.is_file():
        labs = sorted(p.name for p in Path(source).glob("*") if (p / f"{p.name}.ipynb").is_file())
        raise GradingError(f"No lab {lab!r} in {source} (expected {path}). Labs there: "
                           f"{', '.join(labs) or 'none'}.")
    return path


def source_digest(source_path: Path, verifier_file: Path) -> str:
    """What a lab's grades depend on besides the submission: its source notebook and verifier."""
    digest = hashlib.sha256(source_path.read_bytes())
    digest.update(verifier_file.read_bytes() if verifier_file.is_file() else b"")
    return digest.hexdigest()


def tasks_of(release) -> list[tuple[str, float]]:
    """``(grade_id, points)`` of the graded cells, in notebook order."""
    return [(gid, float(meta.get("points", 0))) for gid, meta in intake.graded_cells(release)
            if meta.get("grade") and float(meta.get("points", 0)) > 0]


def cached_template(out: Path, lab: str, source: Path, source_hash: str) -> Path:
    """The lab's clean course (release + empty gradebook) in ``OUT/.template``, generated again
    only when the source notebook changed; every student's scratch course is a copy of it."""
    where = out / ".template"
    marker = where / "source.sha256"
    if marker.is_file() and marker.read_text() == f"{lab}:{source_hash}":
        return where / "course"
    shutil.rmtree(where, ignore_errors=True)
    try:
        template = make_template(lab, source, where)
    except RuntimeError as error:
        raise GradingError(str(error)) from None
    marker.write_text(f"{lab}:{source_hash}")
    return template


def prepare_course(out: Path, template: Path, lab: str, source_hash: str, force: bool) -> Path:
    """``OUT/course``: the course gradebook, created from the template on the first run."""
    final = out / "course"
    marker = final / "flowlab-lab.json"
    expected = {"lab": lab, "source_sha256": source_hash}
    if final.exists():
        recorded = json.loads(marker.read_text()) if marker.is_file() else {}
        if recorded != expected:
            if not force:
                what = (f"lab {recorded.get('lab')}" if recorded.get("lab") != lab
                        else "an older version of this lab's source notebook")
                raise GradingError(f"{out} holds grades for {what}. Use another --out, or --force "
                                   "to re-grade everything into it.")
            for name in ("course", "results", "feedback"):
                shutil.rmtree(out / name, ignore_errors=True)
    if not final.exists():
        shutil.copytree(template, final)
        marker.write_text(json.dumps(expected))
    return final


def store(out: Path, final: Path, lab: str, record: dict, outcome: Outcome | None) -> None:
    """Write one student's result: gradebook entry, autograded notebook, feedback, record."""
    student = record["student"]
    feedback = out / "feedback" / f"{student}.html"
    autograded = final / "autograded" / student
    if outcome is not None and outcome.status == report.GRADED:
        gradebook.copy_submission(outcome.course_root, final, lab, student, bool(record["flags"]))
        shutil.rmtree(autograded, ignore_errors=True)
        budget = copyback.Budget()
        copyback.copy_tree(outcome.course_root / "autograded" / student, autograded, budget)
        rendered = outcome.course_root / "feedback" / student / lab / f"{lab}.html"
        feedback.parent.mkdir(parents=True, exist_ok=True)
        if not (rendered.is_file() and copyback.copy_file(rendered, feedback, budget)):
            feedback.unlink(missing_ok=True)
        if budget.left_out:
            record["reason"] = "; ".join(filter(None, [
                record.get("reason"), "not copied into the output: " + ", ".join(budget.left_out[:5])]))
    else:
        gradebook.remove(final, lab, student)
        shutil.rmtree(autograded, ignore_errors=True)
        feedback.unlink(missing_ok=True)
    report.write_record(out, record)


def grade(lab: str, submissions: Path, out: Path, options: Options | None = None) -> report.Summary:
    """Grade ``lab``'s submissions into ``out``; return the summary (also printed by the CLI)."""
    options = options or Options()
    started = time.monotonic()
    if not Path(submissions).exists():
        raise GradingError(f"Submissions not found: {submissions} does not exist.")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = Path(options.source).resolve()
    source_path = source_notebook(source, lab)
    chosen = sandbox.detect(options.sandbox)
    summary = report.Summary()
    if chosen.warning:
        summary.warnings.append(chosen.warning)
    with locked(out), tempfile.TemporaryDirectory(prefix="flowlab-grade-") as tmp:
        scratch = Path(tmp)
        hidden = intake.hidden_test_cells(nbformat.read(source_path, as_version=4))
        if hidden:
            raise GradingError(f"{source_path} has hidden tests in {', '.join(hidden)}: they would run "
                               "in the student's kernel. Move them into the lab's verifier "
                               f"({verifier.verifier_path(lab, options.verifiers)}).")
        source_hash = source_digest(source_path, verifier.verifier_path(lab, options.verifiers))
        template = cached_template(out, lab, source, source_hash)
        final = prepare_course(out, template, lab, source_hash, options.force)
        release = nbformat.read(template / "release" / lab / f"{lab}.ipynb", as_version=4)
        tasks = tasks_of(release)
        try:
            verifier.load(lab, options.verifiers, [gid for gid, meta in intake.graded_cells(release)
                                                   if meta.get("grade") and not meta.get("solution")])
        except verifier.VerifierError as error:
            raise GradingError(str(error)) from None
        run_key = hashlib.sha256(json.dumps([source_hash, options.limits.as_dict(), chosen.kind])
                                 .encode()).hexdigest()
        try:
            found = intake.collect(Path(submissions), lab, options.pattern, scratch / "unzipped")
        except intake.IntakeError as error:
            raise GradingError(str(error)) from None
        if options.shard:
            found = shard.select(found, *options.shard)
        previous = report.read_records(out)
        todo: list[tuple[intake.Submission, dict]] = []
        for sub in found:
            nb = intake.validate(sub, lab, release)
            flags = tamper.scan(nb, release) if nb is not None else []
            if nb is not None:
                # nbgrader gets a cleaned copy; the hash and the flags are of what was handed in.
                sub.path = scratch / "inputs" / f"{sub.student}.ipynb"
                sub.path.parent.mkdir(exist_ok=True)
                nbformat.write(intake.for_grading(nb, release), sub.path)
            key = hashlib.sha256(f"{run_key}:{sub.sha256}:{sub.label}:{sub.status}".encode()).hexdigest()
            record = {"student": sub.student, "lab": lab, "status": sub.status, "reason": sub.reason,
                      "flags": flags, "scores": {}, "file": sub.label, "sha256": sub.sha256,
                      "key": key, "sandbox": chosen.kind}
            old = previous.get(sub.student)
            if not options.force and old and old.get("key") == key:
                summary.skipped += 1
                continue
            if sub.status:
                with deferred_sigint():
                    store(out, final, lab, record, None)
            else:
                todo.append((sub, record))
        summary.interrupted = not _run(todo, lab, source, template, scratch, out, final, chosen,
                                       options)
        records = {s: r for s, r in report.read_records(out).items() if r.get("lab") == lab}
        report.write_csv(out / "grades.csv", tasks, records)
        if options.export and not summary.interrupted:
            _export(final, lab, out, summary)
    this_run = [r for r in records.values() if r["student"] in {s.student for s in found}]
    summary.total = len(this_run)
    for record in this_run:
        summary.statuses[record["status"]] = summary.statuses.get(record["status"], 0) + 1
    summary.graded = summary.statuses.get(report.GRADED, 0)
    summary.failed = summary.total - summary.graded
    summary.flagged = sum(1 for r in this_run if r["flags"])
    summary.seconds = time.monotonic() - started
    (out / "summary.txt").write_text(summary.text(out) + "\n")
    return summary


def _run(todo, lab, source, template, scratch, out, final, chosen, options) -> bool:
    """Grade ``todo`` on ``options.workers`` threads; False if interrupted by Ctrl-C."""
    if not todo:
        return True
    jupyter = scratch / "jupyter"
    sandbox.write_kernelspec(jupyter, chosen, options.limits)
    running = Running()
    zygotes = ZygotePool(dict(_tool_env(), FLOWLAB_PRELOAD_LAB=lab,
                              FLOWLAB_PRELOAD_VERIFIERS=str(options.verifiers)), running)
    records = {sub.student: record for sub, record in todo}
    bar = tqdm(total=len(todo), unit="student", desc=f"grading {lab}", disable=not options.progress,
               dynamic_ncols=True)
    pool = ThreadPoolExecutor(max_workers=max(1, options.workers))
    threads = threads_per_kernel(options.workers)
    try:
        futures = [pool.submit(_safe_grade, Job(lab, sub.student, sub.path, source, template,
                                              scratch / "students" / sub.student, options.limits,
                                              sandbox.KERNEL_NAME, jupyter, options.verifiers,
                                              threads),
                                  running, zygotes)
                   for sub, _ in todo]
        for future in as_completed(futures):
            outcome = future.result()
            record = records[outcome.student]
            record.update(status=outcome.status, reason=outcome.reason, scores=outcome.scores,
                          seconds=round(outcome.seconds, 2), verdicts=outcome.verdicts)
            record["flags"] = record["flags"] + disagreements(outcome.verdicts)
            with deferred_sigint():
                store(out, final, lab, record, outcome)
            shutil.rmtree(scratch / "students" / outcome.student, ignore_errors=True)
            bar.set_postfix_str(f"{outcome.student}: {outcome.status}", refresh=False)
            bar.update(1)
        return True
    except KeyboardInterrupt:
        running.stop_all()
        return False
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        zygotes.close()
        bar.close()


def disagreements(verdicts: dict) -> list[str]:
    """Test cells whose visible checks failed in the notebook while the trusted check passed: the
    score stands, but a human should see why the two disagree."""
    return [f"visible checks of {test} failed in the notebook, the trusted check passed"
            for test, verdict in sorted(verdicts.get("verdicts", {}).items())
            if verdict.get("passed") and verdict.get("notebook_failed")]


def _safe_grade(job: Job, running: Running, zygotes: ZygotePool) -> Outcome:
    """:func:`grade_one`, turning a grader bug into an ``error`` status for this student only."""
    try:
        return grade_one(job, running, zygotes)
    except Exception as error:  # noqa: BLE001  (one student's problem must not stop the batch)
        return Outcome(job.student, "error", f"grader error: {type(error).__name__}: {error}"[:300])


def _export(final: Path, lab: str, out: Path, summary: report.Summary) -> None:
    """nbgrader's own grade export of the course gradebook, as ``OUT/nbgrader_grades.csv``."""
    try:
        course.nbgrader("export", f"--to={out / 'nbgrader_grades.csv'}", course_root=final,
                        env=_tool_env(), timeout=300)
    except (course.NbgraderError, OSError) as error:
        summary.warnings.append(f"nbgrader export failed (grades.csv is complete): {error}")


def _tool_env() -> dict:
    import os
    import sys

    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
