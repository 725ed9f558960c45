"""The grading kernelspec: ipykernel started through :mod:`.launcher`, inside bubblewrap.

Student code runs as uid 65534 in its own user namespace with no capabilities, an allow-listed
environment and no network. It can read the Python install, the virtual environment, the
``flowlab`` library (not the course tooling in ``flowlab/course/``, which an empty folder covers)
and the course's ``datasets/``; it can write only to size-capped tmpfs folders
(its working folder, ``/tmp``, ``/dev/shm``) and to the runtime folder holding the kernel's
sockets. The solutions, hidden tests, gradebook, other submissions and config are outside every
bound path. ``docs/grading.md`` lists what this does and does not guarantee.

Without bubblewrap the kernel still gets the resource limits, but no file or network isolation;
:func:`detect` says so and the batch report carries that warning.
"""

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import flowlab
from flowlab import course
from flowlab.course.grading.limits import Limits

KERNEL_NAME = "flowlab-grading"
LAUNCHER = Path(__file__).with_name("launcher.py")
TMP_MB = 512
SHM_MB = 64
WORKDIR_MB = 256
# What the launcher asks of bubblewrap; ``--disable-userns`` is added when this kernel allows it.
PROBE = ["--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL", "--clearenv",
         "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent"]


@dataclass(frozen=True)
class Sandbox:
    """Which isolation grading kernels get: ``"bwrap"`` or ``"none"``, and why."""

    kind: str
    note: str = ""
    disable_userns: bool = False
    """Whether bubblewrap can also stop the sandbox from creating nested user namespaces."""

    @property
    def warning(self) -> str:
        """The warning to print and record when kernels run unsandboxed ('' when sandboxed)."""
        if self.kind == "bwrap":
            return ""
        return ("WARNING: student code ran WITHOUT a sandbox (" + self.note + "): it could read "
                "and write any file this user can, and use the network. Resource limits still "
                "applied. Install bubblewrap (autograder/install-sandbox.sh) and re-grade with --force.")


def detect(wanted: str = "auto") -> Sandbox:
    """Pick the sandbox: ``auto`` uses bubblewrap if it works here, ``none`` turns it off, ``bwrap``
    insists (and fails with a clear error if it cannot run)."""
    if wanted == "none":
        return Sandbox("none", "turned off with --sandbox none")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        problem = "bubblewrap (bwrap) is not installed"
    else:
        probe = subprocess.run([bwrap, *PROBE, "true"], capture_output=True, text=True)
        problem = "" if probe.returncode == 0 else f"bwrap cannot start here: {probe.stderr.strip()}"
    if not problem:
        nested = subprocess.run([bwrap, *PROBE, "--disable-userns", "true"], capture_output=True)
        return Sandbox("bwrap", disable_userns=nested.returncode == 0)
    if wanted == "bwrap":
        raise RuntimeError(f"--sandbox bwrap was asked for, but {problem}. "
                           "Run autograder/install-sandbox.sh, or pass --sandbox auto.")
    return Sandbox("none", problem)


def read_only_paths() -> list[str]:
    """What the kernel may read beyond the OS: Python, the venv, the flowlab package, datasets."""
    paths = {sys.base_prefix, sys.prefix, str(Path(flowlab.__file__).resolve().parent),
             str(course.ROOT / "datasets")}
    return sorted(paths)


def hidden_paths() -> list[str]:
    """Folders under the readable ones that student code must not see: the course tooling."""
    return [str(Path(course.__file__).resolve().parent)]


def write_kernelspec(where: Path, sandbox: Sandbox, limits: Limits) -> Path:
    """Write the grading kernelspec under ``where/kernels/`` (put ``where`` on JUPYTER_PATH).

    Returns the kernel folder. ``interrupt_mode: message`` because the sandboxed kernel runs in its
    own session, out of reach of a signal sent to the launcher's process group.
    """
    kernel_dir = Path(where) / "kernels" / KERNEL_NAME
    kernel_dir.mkdir(parents=True, exist_ok=True)
    spec = {"sandbox": sandbox.kind, "bwrap": shutil.which("bwrap") or "", "python": sys.executable,
            "read_only": read_only_paths(), "hidden": hidden_paths(),
            "memory_mb": limits.memory_mb,
            "file_mb": limits.file_mb, "tmp_mb": TMP_MB, "shm_mb": SHM_MB, "workdir_mb": WORKDIR_MB,
            "disable_userns": sandbox.disable_userns}
    (kernel_dir / "launch.json").write_text(json.dumps(spec, indent=1))
    kernelspec = {
        "argv": [sys.executable, "-I", "-S", str(LAUNCHER), str(kernel_dir / "launch.json"),
                 "{connection_file}"],
        "display_name": "flowlab grading (sandboxed)" if sandbox.kind == "bwrap" else "flowlab grading",
        "language": "python",
        "interrupt_mode": "message",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(kernelspec, indent=1))
    return kernel_dir
