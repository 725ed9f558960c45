"""Copy a student's results out of their scratch course into ``--out``, defensively.

Student code never gets the scratch folders (its kernel works in a private tmpfs), but what is
copied into the instructor's output is checked anyway: regular files only, opened without
following symlinks, symlinks and special files left out, and a cap on files and bytes, so a
folder filled by student code can neither point the copy at other files nor fill the disk.
"""

import os
import stat
from pathlib import Path

MAX_FILES = 200
MAX_BYTES = 64 << 20
CHUNK = 1 << 20


class Budget:
    """What may still be copied, and what was left out."""

    def __init__(self, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES):
        self.files = max_files
        self.bytes = max_bytes
        self.left_out: list[str] = []


def copy_file(src: Path, dst: Path, budget: Budget) -> bool:
    """Copy regular file ``src`` to ``dst`` (replaced) if it fits ``budget``; False if left out."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        budget.left_out.append(f"{src.name} (a symlink or unreadable)")
        return False
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode):
            budget.left_out.append(f"{src.name} (not a regular file)")
            return False
        if budget.files < 1 or info.st_size > budget.bytes:
            budget.left_out.append(f"{src.name} ({info.st_size} bytes: over the copy cap)")
            return False
        budget.files -= 1
        dst.unlink(missing_ok=True)
        out_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(out_fd, "wb") as target:
            left = info.st_size
            while left > 0:
                chunk = source.read(min(CHUNK, left))
                if not chunk:
                    break
                target.write(chunk)
                left -= len(chunk)
        budget.bytes -= info.st_size
    return True


def copy_tree(src: Path, dst: Path, budget: Budget) -> None:
    """Copy the regular files and folders under ``src`` into a new folder ``dst``, never through
    a symlink; what is left out is recorded in ``budget``."""
    dst.mkdir(parents=True)
    with os.scandir(src) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_symlink():
                budget.left_out.append(f"{entry.name} (a symlink)")
            elif entry.is_dir(follow_symlinks=False):
                copy_tree(Path(entry.path), dst / entry.name, budget)
            else:
                copy_file(Path(entry.path), dst / entry.name, budget)
