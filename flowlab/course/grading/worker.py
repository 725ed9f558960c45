"""Grade one student in that student's own scratch course and say what happened.

The scratch course is a copy of the lab's template (release + gradebook), so no two students ever
share a gradebook and SQLite locking cannot come into play; the batch copies the result into the
course gradebook afterwards, one student at a time. The runner subprocess gets its own session so
that the whole-notebook time limit can kill it together with its kernel.
"""

import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from flowlab import course
from flowlab.course.grading import gradebook
from flowlab.course.grading.launcher import NEAR_CAP, REPORT_VARIABLE
from flowlab.course.grading.limits import Limits


@dataclass
class Job:
    """Everything one grading run needs."""

    lab: str
    student: str
    notebook: Path
    source: Path
    template: Path
    scratch: Path
    limits: Limits
    kernel_name: str
    jupyter_path: Path
    verifiers: Path
    threads: int = 0
    """CPU threads each of TensorFlow's pools (and OpenMP) may use in the kernel; 0 leaves
    TensorFlow's default, one per core."""


@dataclass
class Outcome:
    """What grading one student gave: status, reason, points per graded cell, and where the
    scratch course holding the gradebook entry, autograded notebook and feedback is."""

    student: str
    status: str
    reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    course_root: Path | None = None
    seconds: float = 0.0
    verdicts: dict = field(default_factory=dict)
    """Per test cell: passed, message, notes (readings), notebook_failed; and the probe seed."""


class Running:
    """Everything that is grading right now, so Ctrl-C can stop it all at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self._killers: dict[int, object] = {}
        self.stopping = False

    def add(self, key: int, kill) -> None:
        with self._lock:
            self._killers[key] = kill
            if self.stopping:
                kill()

    def remove(self, key: int) -> None:
        with self._lock:
            self._killers.pop(key, None)

    def stop_all(self) -> None:
        with self._lock:
            self.stopping = True
            for kill in self._killers.values():
                kill()


def _killpg(pgid: int) -> None:
    """Kill a whole process group (runner, nbgrader and, through them, the kernel)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _kill(proc: subprocess.Popen) -> None:
    _killpg(proc.pid)


class Zygote:
    """One pre-loaded runner process (see :mod:`.zygote`), used by one thread at a time."""

    def __init__(self, env: dict):
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.buffer = b""
        self.died = False

    def _start(self) -> None:
        self.died = False
        self.proc = subprocess.Popen([sys.executable, "-m", "flowlab.course.grading.zygote"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=self.env,
                                     start_new_session=True)
        self.buffer = b""

    def _readline(self, timeout: float | None) -> dict | None:
        """The zygote's next message, or None at ``timeout`` or if it died."""
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self.died = True
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _kill(self.proc)
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc:
            _kill(self.proc)

    def run(self, job_file: Path, env: dict, log: Path, timeout: float,
            running: Running | None) -> bool:
        """Run the runner on ``job_file`` in a forked child; False if it was killed at
        ``timeout`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        request = {"job": str(job_file), "log": str(log), "cwd": str(job_file.parent), "env": env}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        started = self._readline(120)
        if started is None:
            self.kill()
            self.close()
            raise RuntimeError("the grading runner process did not start")
        pid = started["pid"]
        if running:
            running.add(pid, lambda: _killpg(pid))
        try:
            ended = self._readline(timeout)
            if ended is None and self.died:
                self.close()
                raise RuntimeError("the grading process died (killed from outside, or out of memory)")
            if ended is None:
                _killpg(pid)
                if self._readline(30) is None:
                    self.kill()
                    self.close()
                return False
            return True
        finally:
            # The kernel may outlive a runner that exited normally only by a bug; make sure.
            _killpg(pid)
            if running:
                running.remove(pid)


class ZygotePool:
    """Zygotes for the worker threads, created on first use, closed at the end of the batch."""

    def __init__(self, env: dict, running: Running | None = None):
        self.env = env
        self.running = running
        self._free: list[Zygote] = []
        self._all: list[Zygote] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def acquire(self):
        with self._lock:
            if self._free:
                zygote = self._free.pop()
            else:
                zygote = Zygote(self.env)
                self._all.append(zygote)
                if self.running:
                    self.running.add(id(zygote), zygote.kill)
        try:
            yield zygote
        finally:
            with self._lock:
                self._free.append(zygote)

    def close(self) -> None:
        for zygote in self._all:
            zygote.close()


def prepare(job: Job) -> Path:
    """Create the student's scratch course from the template; return its root."""
    root = job.scratch / "course"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copyfile(job.template / "gradebook.db", root / "gradebook.db")
    shutil.copytree(job.template / "release", root / "release")
    target = root / "submitted" / job.student / job.lab / f"{job.lab}.ipynb"
    target.parent.mkdir(parents=True)
    shutil.copyfile(job.notebook, target)
    return root


def threads_per_kernel(workers: int) -> int:
    """The cores this process may run on, shared out between ``workers`` kernels graded at once.

    TensorFlow gives every kernel a thread per core in each of its pools; two kernels on two cores
    then spend a fifth of their time contending for them (lab 02 graded two at a time: 54 s with
    the defaults, 42 s with one thread each)."""
    return max(1, len(os.sched_getaffinity(0)) // max(1, workers))


THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def share_threads(env: dict, threads: int) -> None:
    """Give kernels started with ``env`` ``threads`` threads in TensorFlow's pools and OpenMP,
    unless the instructor set those variables."""
    for name in THREAD_VARIABLES:
        env.setdefault(name, str(threads))


def runner_env(job: Job, runtime: Path) -> dict:
    """The runner's environment: the grading budget, the grading kernelspec, and the venv's tools
    on PATH (nbgrader calls ``alembic`` to create a gradebook)."""
    env = course.grading_environment()
    if job.threads:
        share_threads(env, job.threads)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JUPYTER_PATH"] = str(job.jupyter_path)
    env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    # Read by the kernel's launcher outside the sandbox; the kernel itself never sees it.
    env[REPORT_VARIABLE] = str(sandbox_report(job))
    env.pop("JPY_PARENT_PID", None)
    return env


def sandbox_report(job: Job) -> Path:
    """Where the kernel's launcher records what its watchdog did (outside the sandbox)."""
    return job.scratch / "sandbox-events.jsonl"


def sandbox_notes(job: Job, crashed: bool = False) -> list[str]:
    """What the launcher's watchdog stopped, in words: one note per kind of event, for its worst
    occurrence; with ``crashed``, also how the kernel ended (a kernel stopped at the end of a
    finished grading can end on a signal too, which says nothing)."""
    path = sandbox_report(job)
    if not path.is_file() or path.is_symlink():
        return []
    worst: dict[str, dict] = {}
    times: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines()[:1000]:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        kind = event.get("event")
        if kind == "died" and not crashed:
            continue
        times[kind] = times.get(kind, 0) + 1
        key = "used_mb" if kind == "memory" else "processes"
        if kind not in worst or event.get(key, 0) > worst[kind].get(key, 0):
            worst[kind] = event
    notes = []
    for kind, event in worst.items():
        killed = ("the whole sandbox was stopped" if event.get("killed") == "all"
                  else "its child processes were killed")
        again = f", {times[kind]} times" if times[kind] > 1 else ""
        if kind == "memory":
            notes.append(f"the student's processes together used {event.get('used_mb')} MiB, over the "
                         f"{event.get('cap_mb')} MiB memory cap ({event.get('processes')} processes); "
                         f"{killed}{again}")
        elif kind == "processes":
            notes.append(f"the student's code ran {event.get('processes')} processes at once, over the "
                         f"process cap; {killed}{again}")
        elif kind == "runtime":
            notes.append("the kernel filled its runtime (socket) folder; the sandbox was stopped")
        elif kind == "died":
            notes.append(died_note(event))
        elif kind == "near_cap" and "died" not in worst:  # the died note says it then
            notes.append(f"the kernel's memory reached {event.get('address_space_mb')} MiB of the "
                         f"{event.get('cap_mb')} MiB memory cap, where allocations fail: later "
                         "errors (MemoryError, ImportError) may come from that")
    return notes


def died_note(event: dict) -> str:
    """A kernel that ended with an error, in words: one that came near its address-space cap most
    likely ran out of memory (allocations fail there, and C code that cannot raise MemoryError
    aborts)."""
    code = event.get("code")
    how = f"with code {code}"
    if isinstance(code, int) and code > 128:
        with contextlib.suppress(ValueError):
            how = f"on signal {signal.Signals(code - 128).name}"
    space, cap = event.get("address_space_mb", 0), event.get("cap_mb", 0)
    if cap and space >= NEAR_CAP * cap:
        return (f"the kernel ended {how} after its memory reached {space} MiB of the {cap} MiB "
                "memory cap, so running out of memory is the likely cause: free what the notebook "
                "no longer needs (del) or work in smaller pieces")
    return f"the kernel ended {how}"


def run_job(job_file: Path, env: dict, log: Path, timeout: float, running: Running | None) -> bool:
    """Run the runner on ``job_file``; False if it had to be killed at ``timeout`` seconds."""
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flowlab.course.grading.runner", str(job_file)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=job_file.parent, start_new_session=True)
        if running:
            running.add(proc.pid, lambda: _kill(proc))
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.wait()
            return False
        finally:
            # The kernel may outlive a runner that exited normally only by a bug; make sure.
            _kill(proc)
            if running:
                running.remove(proc.pid)


def cell_notes(notebook: Path, limits: Limits, verdicts: dict | None = None) -> list[str]:
    """Cells the limits stopped: cell time limit, memory cap. A test cell's own errors are replaced
    by its verdict in the autograded notebook; ``verdicts`` (see :mod:`.trusted`) keep their names."""
    notes = []
    if not notebook.is_file():
        return notes
    nb = nbformat.read(notebook, as_version=4)
    raised_in_tests = {test: set(verdict.get("raised", []))
                       for test, verdict in (verdicts or {}).get("verdicts", {}).items()}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        name = meta.get("grade_id") or f"#{index + 1}"
        enames = {o.get("ename") for o in cell.get("outputs", []) if o.output_type == "error"}
        enames |= raised_in_tests.get(name, set())
        if "CellTimeoutError" in enames:
            notes.append(f"cell {name} hit the {limits.cell_timeout} s cell time limit")
        if "MemoryError" in enames:
            notes.append(f"cell {name} hit the {limits.memory_mb} MiB memory cap")
    return notes


def classify(result: dict | None, finished: bool, job: Job, root: Path) -> tuple[str, str]:
    """Status and reason from the runner's result."""
    if not finished:
        return "timeout", (f"stopped at the {job.limits.notebook_timeout} s notebook time limit "
                           "(an endless loop that ignores interrupts, or far too slow code)")
    if result is None:
        return "error", "the grader process died without a result (see grader.log in the scratch)"
    if "crash" in result:
        return "error", "grader error: " + result["crash"].strip().splitlines()[-1][:300]
    autograde = result.get("autograde", {})
    if not autograde.get("success"):
        text = autograde.get("log", "") + autograde.get("error", "")
        if "Kernel died" in text or "DeadKernelError" in text:
            notes = cell_notes(root / "autograded" / job.student / job.lab / f"{job.lab}.ipynb",
                               job.limits) + sandbox_notes(job, crashed=True)
            return "crashed", ("the kernel died while running the notebook (os._exit, a segfault, "
                               "or memory exhausted)" + (f"; {'; '.join(notes)}" if notes else ""))
        if "CellTimeoutError" in text:
            return "timeout", (f"a cell ran past the {job.limits.cell_timeout} s cell time limit and "
                               "did not stop when interrupted (it may ignore SIGINT)")
        if "didn't respond" in text or "Kernel didn't" in text:
            return "error", "the grading kernel did not start (sandbox or install problem)"
        last = [line for line in text.strip().splitlines() if "ERROR" in line or "Error" in line]
        return "error", "nbgrader autograde failed: " + (last[-1][:300] if last else "no message")
    return "graded", ""


def grade_one(job: Job, running: Running | None = None, zygotes: ZygotePool | None = None) -> Outcome:
    """Autograde ``job.student`` with the limits and sandbox; never raises for a bad notebook."""
    start = time.monotonic()
    root = prepare(job)
    runtime = job.scratch / "runtime"
    runtime.mkdir(exist_ok=True)
    sandbox_report(job).unlink(missing_ok=True)
    # Fresh probes every run: evidence computed for another run's inputs is worth nothing.
    spec = {"action": "grade", "lab": job.lab, "student": job.student, "source": str(job.source),
            "course_root": str(root), "result": str(job.scratch / "result.json"),
            "kernel_name": job.kernel_name, "runtime": str(runtime), "limits": job.limits.as_dict(),
            "verifiers": str(job.verifiers), "probe_seed": secrets.randbits(63),
            "verdicts": str(job.scratch / "verdicts.json")}
    job_file = job.scratch / "job.json"
    job_file.write_text(json.dumps(spec))
    env, log = runner_env(job, runtime), job.scratch / "grader.log"
    if zygotes is None:
        finished = run_job(job_file, env, log, job.limits.notebook_timeout, running)
    else:
        with zygotes.acquire() as zygote:
            finished = zygote.run(job_file, env, log, job.limits.notebook_timeout, running)
    result_file = job.scratch / "result.json"
    result = json.loads(result_file.read_text()) if finished and result_file.is_file() else None
    status, reason = classify(result, finished, job, root)
    outcome = Outcome(job.student, status, reason, course_root=root)
    if status == "graded":
        autograded = root / "autograded" / job.student / job.lab / f"{job.lab}.ipynb"
        verdicts_file = job.scratch / "verdicts.json"
        if verdicts_file.is_file():
            outcome.verdicts = json.loads(verdicts_file.read_text())
        outcome.reason = "; ".join(cell_notes(autograded, job.limits, outcome.verdicts)
                                   + sandbox_notes(job))
        outcome.scores = gradebook.scores(root, job.lab, job.student)
        if not result.get("feedback", {}).get("success"):
            outcome.reason = "; ".join(filter(None, [outcome.reason, "feedback could not be generated"]))
    outcome.seconds = time.monotonic() - start
    return outcome


def make_template(lab: str, source: Path, where: Path) -> Path:
    """Generate ``lab``'s student version and gradebook into course folder ``where``."""
    where.mkdir(parents=True, exist_ok=True)
    spec = {"action": "template", "lab": lab, "source": str(source), "course_root": str(where / "course"),
            "result": str(where / "result.json")}
    job_file = where / "job.json"
    job_file.write_text(json.dumps(spec))
    env = course.grading_environment()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    run_job(job_file, env, where / "grader.log", 600, None)
    result = json.loads((where / "result.json").read_text()) if (where / "result.json").is_file() else {}
    generated = result.get("generate", {})
    if not generated.get("success"):
        detail = generated.get("log", "") + generated.get("error", "") + result.get("crash", "")
        raise RuntimeError(f"Could not generate the student version of {lab} from {source}:\n"
                           f"{detail[-3000:]}")
    return where / "course"
