"""Spread a course over machines: ``--shard i/N`` grades a fixed slice, ``grade-merge`` joins them.

A student's shard depends only on the student id (a hash), so every machine computes the same
slices without talking to the others, and adding students does not move existing ones.
"""

import hashlib
import re

SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse(text: str) -> tuple[int, int]:
    """``"i/N"`` (1 <= i <= N) as ``(i, N)``, with a clear error otherwise."""
    match = SHARD.match(text or "")
    if not match:
        raise ValueError(f"--shard {text!r} should look like 2/8 (this is slice 2 of 8).")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ValueError(f"--shard {text!r}: need 1 <= i <= N (slices are numbered from 1).")
    return index, count


def shard_of(student: str, count: int) -> int:
    """The slice (1..count) ``student`` belongs to."""
    digest = hashlib.sha256(student.encode("utf-8")).hexdigest()
    return int(digest[:12], 16) % count + 1


def select(items, index: int, count: int, key=lambda item: item.student):
    """The items of slice ``index`` of ``count``."""
    return [item for item in items if shard_of(key(item), count) == index]
