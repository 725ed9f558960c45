"""A tiny nbgrader lab and hostile submissions for the grading tests (no TensorFlow needed).

``lab00_tiny`` has two answer cells and two test cells (2 + 3 points); each test cell has a visible
check, and its verifier (:data:`VERIFIER`) checks both functions on fresh probes. Submissions are
the student version with answers filled in and, for the hostile cases, extra code or edited cells.
"""

import copy
import json
from pathlib import Path

import nbformat

LAB = "lab00_tiny"
SECRET = "HIDDEN-SECRET-7f3a"

ANSWER_ADD = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n"
ANSWER_MUL = "def mul(a, b):\n    ### BEGIN SOLUTION\n    return a * b\n    ### END SOLUTION\n"
TEST_ADD = ("from flowlab import checks\n"
            "checks.expect(add(1, 2) == 3, 'add(1, 2) should be 3')\n")
TEST_MUL = ("from flowlab import checks\n"
            "checks.expect(mul(2, 3) == 6, 'mul(2, 3) should be 6')\n")
# The tiny lab's trusted checks. They never enter a student's kernel, so SECRET, which sits in
# their source, must never show up in anything a student's code produced.
VERIFIER = f'''"""Trusted checks of {LAB}.  {SECRET}"""
import numpy as np

from flowlab.course.grading.verifier import Task

FIXED = [(1, 2), (-2, 4), (-1, 1)]


def probes(rng):
    pairs = np.array(FIXED + rng.integers(-50, 50, size=(8, 2)).tolist())
    return {{"a": pairs[:, 0], "b": pairs[:, 1]}}


def _judge(ev, key, name, op):
    a, b = ev.probes["a"], ev.probes["b"]
    got = ev.array(key)
    assert got.shape == a.shape, f"{{name}} should give one number per pair"
    for x, y, value in zip(a, b, got):
        assert value == op(x, y), f"{{name}}({{x}}, {{y}}) should be {{op(x, y)}}"


TASKS = [
    Task("test_add", {{"sums": "[add(int(x), int(y)) for x, y in zip(_P.a, _P.b)]"}},
         lambda ev: _judge(ev, "sums", "add", lambda x, y: x + y)),
    Task("test_mul", {{"products": "[mul(int(x), int(y)) for x, y in zip(_P.a, _P.b)]"}},
         lambda ev: _judge(ev, "products", "mul", lambda x, y: x * y)),
]
'''


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=0):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def write_tiny_source(root: Path) -> Path:
    """Write ``root/lab00_tiny/lab00_tiny.ipynb`` (an nbgrader source notebook); return ``root``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny lab", metadata=_meta("intro", locked=True)),
        nbformat.v4.new_code_cell(ANSWER_ADD, metadata=_meta("answer_add", solution=True)),
        nbformat.v4.new_code_cell(TEST_ADD, metadata=_meta("test_add", grade=True, locked=True,
                                                          points=2)),
        nbformat.v4.new_code_cell(ANSWER_MUL, metadata=_meta("answer_mul", solution=True)),
        nbformat.v4.new_code_cell(TEST_MUL, metadata=_meta("test_mul", grade=True, locked=True,
                                                          points=3)),
    ]
    folder = Path(root) / LAB
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{LAB}.ipynb")
    verifiers(root).mkdir(exist_ok=True)
    (verifiers(root) / f"{LAB}.py").write_text(VERIFIER)
    return Path(root)


def verifiers(source: Path) -> Path:
    """The tiny lab's verifier folder, beside its source notebook's folder."""
    return Path(source) / "verifiers"


def submission(release: Path, add: str = "    return a + b\n", mul: str = "    return a * b\n",
               extra: str | None = None) -> nbformat.NotebookNode:
    """The student version ``release`` with answers filled in (bodies of add and mul).

    ``extra`` is code put into the add answer cell before the function, where a student could.
    """
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "answer_add":
            cell.source = (extra + "\n" if extra else "") + "def add(a, b):\n" + add
        elif grade_id == "answer_mul":
            cell.source = "def mul(a, b):\n" + mul
    return nb


def cell_by_id(nb, grade_id):
    """The cell of ``nb`` with nbgrader ``grade_id``."""
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def write(nb, path: Path) -> Path:
    """Write notebook ``nb`` to ``path``; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(copy.deepcopy(nb), path)
    return path


def read_csv(path: Path) -> dict[str, dict]:
    """The grades CSV as ``student -> row``."""
    import csv

    with open(path, newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def dump(obj) -> str:
    return json.dumps(obj)


WRONG = "    return 0\n"


def other_lab_notebook() -> nbformat.NotebookNode:
    """A notebook of some other lab: nbgrader cells, none of them this lab's."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata=_meta("answer_flow", solution=True)),
                nbformat.v4.new_code_cell("assert x == 1",
                                          metadata=_meta("test_flow", grade=True, locked=True, points=4))]
    return nb


def snoop_code(targets: list[Path], canary: Path, gradebook_guess: str) -> str:
    """Student code that tries to read ``targets``, write ``canary``, delete the gradebook its
    scratch course would have, and reach the network; it prints how many attempts worked."""
    return f"""
import os, pathlib, socket, shutil
leaked = 0
for target in {[str(t) for t in targets]!r}:
    try:
        p = pathlib.Path(target)
        data = p.read_bytes() if p.is_file() else os.listdir(p)
        leaked += 1
    except Exception:
        pass
wrote = 0
try:
    pathlib.Path({str(canary)!r}).write_text("pwned")
    wrote += 1
except Exception:
    pass
for victim in [{gradebook_guess!r}, {str(targets[0])!r}]:
    try:
        os.remove(victim)
        wrote += 1
    except Exception:
        pass
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3).close()
    net = "open"
except OSError:
    net = "blocked"
print(f"LEAKED {{leaked}} WROTE {{wrote}} NET {{net}}")
"""


def hostile_batch(release: Path, folder: Path, secrets: list[Path], canary: Path) -> dict[str, str]:
    """Write one submission per bad-input and tampering case into ``folder``.

    ``secrets`` are paths student code must not read (the first is also a deletion target).
    Returns ``student -> what the case is``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cases = {}

    def put(student, nb, what):
        write(nb, folder / f"{student}.ipynb")
        cases[student] = what

    put("alice", submission(release), "correct")
    put("bob", submission(release, mul="    return a + b\n"), "mul wrong: 2 of 5")
    put("zoe", submission(release, add=WRONG, mul=WRONG), "both wrong: honest 0")
    put("hidden", submission(release, mul="    return abs(a * b)\n"), "fails only a hidden check")
    (folder / "empty.ipynb").write_text("")
    cases["empty"] = "empty file"
    (folder / "badjson.ipynb").write_text('{"cells": [')
    cases["badjson"] = "invalid JSON"
    (folder / "notnb.ipynb").write_text('{"hello": 1}')
    cases["notnb"] = "JSON but not a notebook"
    put("wronglab", other_lab_notebook(), "another lab's notebook")
    put("exiter", submission(release, extra="import os\nos._exit(3)"), "kernel exits")
    put("segv", submission(release, extra="import ctypes\nctypes.string_at(0)"), "segfault")
    put("looper", submission(release, extra="while True:\n    pass"), "endless loop")
    put("stubborn", submission(release, extra=(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")),
        "endless loop ignoring SIGINT")
    # The bomb lets go of its hoard once the cap stops it. A hoard kept past the MemoryError leaves
    # the cells after it a few MiB, or none, below the cap, depending on where the 50 MB steps land:
    # then the kernel may die in its next allocation (1 run in 6 here), a legitimate "crashed".
    put("bomb", submission(release, extra=(
        "hog = []\ntry:\n    while True:\n        hog.append(bytearray(50_000_000))\n"
        "finally:\n    hog.clear()")), "memory bomb")
    # The hoarder keeps what it got: later cells run a few MiB below the cap, or none, and either
    # fail with MemoryError or kill the kernel in an allocation that cannot raise it.
    put("hoarder", submission(release, extra=(
        "hoard = []\ntry:\n    while True:\n        hoard.append(bytearray(50_000_000))\n"
        "except MemoryError:\n    pass")), "memory bomb that keeps its hoard")
    # What a kernel does when an allocation fails in C code, which cannot raise MemoryError.
    put("aborter", submission(release, extra=(
        "import os\nhoard = []\ntry:\n    while True:\n        hoard.append(bytearray(50_000_000))\n"
        "except MemoryError:\n    os.abort()")), "out of memory in C code")
    put("shouty", submission(release, extra="print('x' * 50_000_000)"), "50 MB one-line output")

    nb = submission(release)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_mul"]
    put("deleter", nb, "deleted test cell")
    nb = submission(release)
    nb.cells.insert(2, copy.deepcopy(cell_by_id(nb, "answer_add")))
    put("twin", nb, "duplicated graded cell")
    nb = submission(release)
    test_mul = cell_by_id(nb, "test_mul")
    nb.cells.remove(test_mul)
    nb.cells.insert(1, test_mul)
    put("shuffler", nb, "reordered cells")
    nb = submission(release, mul=WRONG)
    cell_by_id(nb, "test_mul").metadata["nbgrader"]["points"] = 30
    put("greedy", nb, "edited points metadata")
    nb = submission(release, mul=WRONG)
    cell_by_id(nb, "test_mul").source = "pass\n"
    put("editor", nb, "test cell replaced by pass")
    nb = submission(release, add=WRONG, mul=WRONG,
                    extra="from flowlab import checks\nchecks.expect = lambda *args, **kwargs: None")
    put("patcher", nb, "patches flowlab.checks")
    put("tracer", submission(release, extra="import sys\nsys.settrace(lambda *a: None)"),
        "interpreter hook")
    nb = submission(release)
    cell_by_id(nb, "answer_mul").source += "\nprint(In)\n"
    put("historian", nb, "prints the cell history (hidden tests of earlier cells)")
    nb = submission(release)
    nb.cells.append(nbformat.v4.new_code_cell("import os\nos._exit(3)"))
    put("trailer", nb, "a cell after the last test kills the kernel")
    gradebook_guess = "../../../gradebook.db"
    put("snoop", submission(release, extra=snoop_code(secrets, canary, gradebook_guess)),
        "reads/writes outside its sandbox")
    write(submission(release), folder / "dup_1.ipynb")
    write(submission(release), folder / "dup_2.ipynb")
    cases["dup"] = "two files, one student"
    return cases


def tiny_course(root: Path) -> tuple[Path, Path, Path]:
    """The tiny lab's source folder, its generated template course and its release notebook."""
    from flowlab.course.grading.worker import make_template

    source = write_tiny_source(root / "source")
    template = make_template(LAB, source, root / "template")
    return source, template, template / "release" / LAB / f"{LAB}.ipynb"


def seed_template(out: Path, source: Path, template: Path) -> Path:
    """Give a fresh ``--out`` folder the already generated template (what a first run caches), so
    tests do not pay for generating it again. Returns ``out``."""
    import shutil

    from flowlab.course.grading.batch import source_digest

    cache = out / ".template"
    shutil.copytree(template, cache / "course")
    digest = source_digest(source / LAB / f"{LAB}.ipynb", verifiers(source) / f"{LAB}.py")
    (cache / "source.sha256").write_text(f"{LAB}:{digest}")
    return out
