"""Start one grading kernel inside bubblewrap and watch it until it ends.

A kernelspec's ``argv`` runs this file (standard library only, ``python -I -S``) as
``launcher.py SPEC.json CONNECTION_FILE``. jupyter_client starts it in the notebook's folder; the
kernel does not get that folder: it works in a private, size-capped tmpfs at the same path, so
nothing it writes can end up where nbgrader later writes the autograded notebook.

The launcher stays alive as the sandbox's parent. Linux gives no whole-tree memory cap without a
writable cgroup, so a watchdog here adds up the memory of every process of the sandbox and kills
the student's extra processes (or the whole sandbox) above the cap; it also stops a kernel that
fills the one host folder it can write to, the runtime folder holding the kernel's sockets. What
it did is appended to the file named by ``FLOWLAB_SANDBOX_REPORT`` (outside the sandbox), so the
grader can give the reason.
"""

import contextlib
import ctypes
import json
import os
import resource
import signal
import sys
import time

# /etc entries a Python + TensorFlow kernel needs; nothing else of /etc is visible to student code.
ETC = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf",
       "hosts", "fonts", "ssl", "alternatives", "mime.types", "os-release"]
# The grader's environment variables a kernel gets (course.grading_environment() sets most of
# them); everything else the grader has, tokens and credentials included, stays outside.
ENV_ALLOWED = {"PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONWARNINGS",
               "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "MPLBACKEND", "LOKY_MAX_CPU_COUNT",
               "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "PYDEVD_DISABLE_FILE_VALIDATION", "FLOWLAB_BUDGET", "FLOWLAB_SEED"}
ENV_PREFIXES = ("TF_",)
REPORT_VARIABLE = "FLOWLAB_SANDBOX_REPORT"
SANDBOX_UID = 65534  # "nobody": the uid student code has inside the sandbox's user namespace
PR_SET_PDEATHSIG = 1
# The runtime folder only ever holds the connection file and a handful of sockets.
RUNTIME_MAX_ENTRIES = 64
RUNTIME_MAX_BYTES = 1 << 20
# Processes a kernel may have at once (threads do not count): room for a process pool, not a fork bomb.
MAX_PROCESSES = 64
PAGE = os.sysconf("SC_PAGE_SIZE")
# A process holding this share of the address-space cap is about to have its allocations fail.
NEAR_CAP = 0.9


def set_limits(spec: dict) -> None:
    """Cap address space, file size and core dumps of this process and everything it execs."""
    memory = spec["memory_mb"] << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    file_size = spec["file_mb"] << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def die_with_parent() -> None:
    """Ask Linux to kill this process when the process that started it dies (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def kernel_environment(environ: dict, sandboxed: bool) -> dict:
    """The allow-listed part of ``environ``, plus a private HOME when sandboxed."""
    env = {name: value for name, value in environ.items()
           if name in ENV_ALLOWED or name.startswith(ENV_PREFIXES)}
    # RLIMIT_AS counts reserved address space, and glibc reserves a 64 MiB heap arena for each of
    # TensorFlow's many threads: about 0.9 GiB of a lab-06 kernel's 4.7 GiB peak, none of it used.
    env["MALLOC_ARENA_MAX"] = "2"
    if sandboxed:
        env.update(HOME="/tmp", MPLCONFIGDIR="/tmp/matplotlib")
    elif "HOME" in environ:
        env["HOME"] = environ["HOME"]
    return env


def _files_to_show(folder: str) -> list[str]:
    """Regular files nbgrader put in the notebook folder that a kernel may read (data files copied
    from the lab's source folder); never notebooks (the autograded one holds the hidden tests)."""
    names = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and not entry.name.endswith(".ipynb"):
                names.append(entry.name)
    return sorted(names)


def bwrap_command(spec: dict, connection_file: str, kernel: list[str], env: dict) -> list[str]:
    """The bubblewrap command line that runs ``kernel`` with only the paths it needs."""
    cwd = os.getcwd()
    command = [spec["bwrap"], "--die-with-parent", "--new-session",
               "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    if spec.get("disable_userns"):
        command.append("--disable-userns")
    command += ["--cap-drop", "ALL", "--clearenv",
                "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try",
                "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
                # --dev's own tmpfs is made read-only below; shared memory gets a capped one.
                "--size", str(spec["shm_mb"] << 20), "--tmpfs", "/dev/shm",
                # /tmp first: the folders below may live under the host's /tmp.
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
    # The course tooling (grader, audit, catalogs' machinery) sits inside the package folder; an
    # empty read-only tmpfs over it keeps it out of the student's reach.
    for path in spec.get("hidden", []):
        command += ["--size", "4096", "--tmpfs", path, "--remount-ro", path]
    runtime = os.path.dirname(os.path.abspath(connection_file))
    command += ["--bind", runtime, runtime,
                "--size", str(spec["workdir_mb"] << 20), "--tmpfs", cwd]
    for name in _files_to_show(cwd):
        command += ["--ro-bind", os.path.join(cwd, name), os.path.join(cwd, name)]
    for name, value in sorted(env.items()):
        command += ["--setenv", name, value]
    # Everything not mounted on its own (the sandbox's / and /dev) is read-only, so every writable
    # place is one of the capped tmpfs above or the runtime folder.
    command += ["--chdir", cwd, "--remount-ro", "/dev", "--remount-ro", "/"]
    return command + ["--", *kernel]


def _parents() -> dict[int, int]:
    """``pid -> parent pid`` of every process on the machine."""
    parents = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def tree_of(root: int) -> tuple[list[int], dict[int, list[int]]]:
    """``root`` and all its descendants (parents before children), and who is whose child."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    return descendants(root, children), children


def descendants(root: int, children: dict[int, list[int]]) -> list[int]:
    """``root`` and everything below it in ``children``, parents first."""
    tree, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        tree.append(pid)
        todo.extend(sorted(children.get(pid, [])))
    return tree


def sizes_of(pid: int) -> tuple[int, int]:
    """Bytes of address space ``pid`` has reserved (what RLIMIT_AS caps, per process) and bytes of
    RAM it has resident (pages shared with other processes included), from one read of statm."""
    with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{pid}/statm", "rb") as handle:
        fields = handle.read().split()
        return int(fields[0]) * PAGE, int(fields[1]) * PAGE
    return 0, 0


def proportional_of(pid: int) -> int:
    """Bytes of RAM ``pid`` uses as its proportional share (Pss), so pages shared between forked
    processes count once over the tree; its resident size where Pss cannot be read."""
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
        for line in handle:
            if line.startswith(b"Pss:"):
                return int(line.split()[1]) << 10
    return sizes_of(pid)[1]


def memory_of(sizes: dict[int, tuple[int, int]], cap: int) -> int:
    """RAM used by the processes of ``sizes`` (pid -> :func:`sizes_of`): the cheap resident sum
    while it is under ``cap`` (it is never below the proportional sum), the proportional sum once
    it is not."""
    resident = sum(resident for _, resident in sizes.values())
    return resident if resident <= cap else sum(proportional_of(pid) for pid in sizes)


def _is_kernel(pid: int) -> bool:
    """Whether ``pid`` runs ``python -m ipykernel_launcher`` (bubblewrap's command line only
    mentions it further on; the kernel's forked children come after it in a tree)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().split(b"\0")[1:3] == [b"-m", b"ipykernel_launcher"]
    return False


def runtime_usage(folder: str) -> tuple[int, int]:
    """Entries and bytes under ``folder``, symlinks not followed (counted as entries only)."""
    entries = size = 0
    todo = [folder]
    while todo and entries <= RUNTIME_MAX_ENTRIES:
        with contextlib.suppress(OSError), os.scandir(todo.pop()) as listing:
            for entry in listing:
                entries += 1
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        size += entry.stat(follow_symlinks=False).st_size
    return entries, size


def report(event: dict) -> None:
    """Append ``event`` to the grader's report file (never through a symlink)."""
    path = os.environ.get(REPORT_VARIABLE)
    if not path:
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write(json.dumps(event) + "\n")


def _kill(pids) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _start(command: list[str], env: dict) -> int:
    """Fork and exec ``command`` with environment ``env``; it dies if this launcher dies."""
    pid = os.fork()
    if pid == 0:
        try:
            die_with_parent()
            os.execve(command[0], command, env)
        finally:
            os._exit(127)
    return pid


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def watch(child: int, memory_cap: int, runtime: str | None) -> int:
    """Wait for ``child``, keeping its whole process tree under ``memory_cap`` bytes and
    ``MAX_PROCESSES`` processes and the runtime folder small; the child's exit code.

    RLIMIT_AS makes allocations fail at the cap, in forms the notes cannot all recognise (a
    MemoryError, an ImportError when a library cannot be mapped, an abort in C code), so the first
    time a process of the tree holds ``NEAR_CAP`` of the cap it is reported; a child that ends
    with an error is reported with the largest address space any of its processes ever held."""
    last_runtime_check = 0.0
    largest_space = 0
    near_cap_reported = False
    # SIGCHLD stays pending while blocked, so the wait below ends as soon as the child does and
    # the report is written before jupyter_client notices the dead kernel and stops this launcher.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    while True:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            code = _exit_code(status)
            if code != 0:
                report({"event": "died", "code": code, "address_space_mb": largest_space >> 20,
                        "cap_mb": memory_cap >> 20})
            return code
        tree, children = tree_of(child)
        sizes = {pid: sizes_of(pid) for pid in tree}
        largest_space = max([largest_space, *(space for space, _ in sizes.values())])
        if largest_space >= NEAR_CAP * memory_cap and not near_cap_reported:
            report({"event": "near_cap", "address_space_mb": largest_space >> 20,
                    "cap_mb": memory_cap >> 20})
            near_cap_reported = True
        used = memory_of(sizes, memory_cap)
        if used > memory_cap or len(tree) > MAX_PROCESSES:
            kernel = next((pid for pid in tree if _is_kernel(pid)), None)
            extra = descendants(kernel, children)[1:] if kernel is not None else []
            report({"event": "memory" if used > memory_cap else "processes",
                    "used_mb": used >> 20, "cap_mb": memory_cap >> 20, "processes": len(tree),
                    "killed": len(extra) or "all"})
            # The student's extra processes go first, so the kernel can finish the notebook; a
            # kernel over the cap on its own ends the sandbox.
            _kill(extra or tree)
        now = time.monotonic()
        if runtime and now - last_runtime_check > 1.0:
            last_runtime_check = now
            entries, size = runtime_usage(runtime)
            if entries > RUNTIME_MAX_ENTRIES or size > RUNTIME_MAX_BYTES:
                report({"event": "runtime", "entries": entries, "bytes": size})
                _kill(tree)
        signal.sigtimedwait({signal.SIGCHLD}, 0.1 if used > memory_cap // 2 else 0.25)


def main(argv: list[str]) -> None:
    spec_path, connection_file = argv[1], argv[2]
    with open(spec_path) as handle:
        spec = json.load(handle)
    kernel = [spec["python"], "-m", "ipykernel_launcher", "-f", connection_file]
    sandboxed = spec["sandbox"] == "bwrap"
    env = kernel_environment(dict(os.environ), sandboxed)
    set_limits(spec)
    die_with_parent()
    if sandboxed:
        runtime = os.path.dirname(os.path.abspath(connection_file))
        child = _start(bwrap_command(spec, connection_file, kernel, env), env)
    else:
        runtime = None
        child = _start(kernel, env)

    def stop(signum, frame):
        _kill(tree_of(child)[0])
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    sys.exit(watch(child, spec["memory_mb"] << 20, runtime))


if __name__ == "__main__":
    main(sys.argv)
