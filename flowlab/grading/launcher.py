"""Start one grading kernel: apply the resource limits, then exec the kernel, inside bubblewrap
when the job asks for it.

A kernelspec's ``argv`` runs this file (standard library only, ``python -I -S``) as
``launcher.py SPEC.json CONNECTION_FILE``. jupyter_client starts it in the notebook's folder, so
the current directory is the one folder the kernel may write to.
"""

import contextlib
import ctypes
import json
import os
import resource
import signal
import sys

# /etc entries a Python + TensorFlow kernel needs; nothing else of /etc is visible to student code.
ETC = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf",
       "hosts", "fonts", "ssl", "alternatives", "mime.types", "os-release"]


def set_limits(spec: dict) -> None:
    """Cap address space, file size and core dumps of this process and everything it execs."""
    memory = spec["memory_mb"] << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    file_size = spec["file_mb"] << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def die_with_parent() -> None:
    """Ask Linux to kill this process when the grader that started it dies (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def bwrap_command(spec: dict, connection_file: str, kernel: list[str]) -> list[str]:
    """The bubblewrap command line that runs ``kernel`` with only the paths it needs."""
    cwd = os.getcwd()
    command = [spec["bwrap"], "--die-with-parent", "--new-session",
               "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try",
               "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
               # /tmp first: the binds below may live under the host's /tmp and must stay visible.
               "--size", str(spec["tmp_mb"] << 20), "--tmpfs", "/tmp"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            command += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            command += ["--ro-bind", top, top]
    for name in ETC:
        command += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in spec["read_only"]:
        command += ["--ro-bind-try", path, path]
    runtime = os.path.dirname(os.path.abspath(connection_file))
    for path in (runtime, cwd):
        command += ["--bind", path, path]
    command += ["--chdir", cwd, "--unsetenv", "JPY_PARENT_PID",
                "--setenv", "HOME", "/tmp", "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib"]
    return command + ["--", *kernel]


def main(argv: list[str]) -> None:
    spec_path, connection_file = argv[1], argv[2]
    with open(spec_path) as handle:
        spec = json.load(handle)
    kernel = [spec["python"], "-m", "ipykernel_launcher", "-f", connection_file]
    set_limits(spec)
    if spec["sandbox"] == "bwrap":
        command = bwrap_command(spec, connection_file, kernel)
    else:
        die_with_parent()
        command = kernel
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
