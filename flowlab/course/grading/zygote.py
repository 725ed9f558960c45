"""A pre-loaded runner: imports nbgrader once, then forks one child per grading job.

Starting Python and importing nbgrader/nbconvert costs about 2.5 s of CPU, more than grading a
small notebook; each worker thread keeps one zygote and saves that for every student after its
first. Each child gets a fresh process (own session, environment, folder and log), so jobs share
nothing, and the whole-notebook time limit kills the child's process group as before.

Protocol on stdin/stdout, one JSON object a line: the worker sends ``{"job", "log", "cwd", "env"}``;
the zygote answers ``{"pid"}`` when the child started and ``{"exit"}`` when it ended.
"""

import contextlib
import ctypes
import json
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have Linux kill this process when its parent dies, so that killing the grader (even with
    SIGKILL) takes the zygote, its child and, through bubblewrap, the kernel with it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _child(request: dict) -> None:
    """Run one job in the forked child; never returns."""
    code = 1
    try:
        os.setsid()
        die_with_parent()
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        from flowlab.course.grading import runner

        runner.main(request["job"])
        code = 0
    except BaseException:  # noqa: BLE001  (the exit code tells the worker; the log has the detail)
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def preload_verifier() -> None:
    """Load the lab's verifier (and what it imports, TensorFlow for most labs) before forking, so
    each grading process does not import it again: a verifier whose judges use TensorFlow imports
    it at module level for this, since importing it in every grading process costs about 5 s. A
    child forked after the import runs ops normally; nothing here runs one, so TensorFlow's thread
    pools start in each child, not in the zygote. A verifier that fails to load is reported by the
    grading process itself."""
    lab, folder = os.environ.get("FLOWLAB_PRELOAD_LAB"), os.environ.get("FLOWLAB_PRELOAD_VERIFIERS")
    if lab and folder:
        from flowlab.course.grading import verifier

        with contextlib.suppress(Exception):
            verifier.load(lab, folder)


def main() -> None:
    die_with_parent()
    from flowlab.course.grading import runner  # noqa: F401  (the point: import before forking)

    preload_verifier()
    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        out.write(json.dumps({"exit": os.waitstatus_to_exitcode(status)}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
