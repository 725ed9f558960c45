"""A lab's trusted checks: what to measure in the student's kernel, and how to judge it outside.

Each lab has a verifier module, ``autograder/verifiers/<lab>.py``, outside the package and outside
the sandbox, so student code can neither import nor read it. It defines

* ``probes(rng) -> dict[str, np.ndarray]``: inputs drawn afresh for every grading run;
* ``TASKS``: one :class:`Task` per graded test cell, naming the expressions to evaluate in the
  student's kernel (:mod:`.evidence`) and a ``judge(evidence)`` that raises ``AssertionError``
  with a message for the student when the work is wrong.

The judge runs in the grader's process with the reference code and data; its verdict alone
decides the cell's points.
"""

import hashlib
import importlib.util
import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowlab import course
from flowlab.evidence import EvidenceError, encode_array

COLLECT_CALL = '__import__("flowlab.evidence", fromlist=["collect"]).collect({request!r})\n'


class VerifierError(RuntimeError):
    """A lab's verifier is missing or does not cover its graded cells (a course set-up problem)."""


@dataclass(frozen=True)
class Task:
    """The trusted check of one graded test cell."""

    test: str
    """The test cell's nbgrader ``grade_id``."""
    collect: dict[str, str]
    """Evidence key -> expression evaluated in the student's namespace after the test cell ran."""
    judge: Callable[["Evidence"], None]
    """Raises ``AssertionError(message)`` unless the evidence shows correct work."""


class Evidence:
    """What one task collected, with the probes of this run; missing values fail with a message."""

    def __init__(self, task: Task, values: dict, probes: dict[str, np.ndarray],
                 notes: list[str] | None = None):
        self.task = task
        self.values = values
        self.probes = probes
        self.notes = notes if notes is not None else []

    def __getitem__(self, key: str):
        if key not in self.task.collect:
            raise KeyError(f"{key!r} is not collected by {self.task.test}")
        value = self.values.get(key, EvidenceError("no value came back from the notebook"))
        if isinstance(value, EvidenceError):
            raise AssertionError(f"`{self.task.collect[key]}` failed in your notebook: {value}")
        return value

    def array(self, key: str, dtype=np.float64) -> np.ndarray:
        """The value as a numeric array; fails with a message if it is not numbers."""
        value = self[key]
        if not isinstance(value, np.ndarray):
            raise AssertionError(f"`{self.task.collect[key]}` should give numbers, but gave {value!r:.80}.")
        return value.astype(dtype)

    def below(self, value: float, limit: float, name: str) -> None:
        """A score such as a held-out NLL must be below ``limit``. The reading is noted either way
        (students see how close they are; the audit reads the margin from it)."""
        value = float(value)
        self.notes.append(f"{name}: {value:.4f} (threshold {limit})")
        if not np.isfinite(value):
            raise AssertionError(f"{name} is {value}, not a finite number.")
        if not value < limit:
            raise AssertionError(f"{name} is {value:.4f}, but should be below {limit}.")

    def kind(self, key: str) -> list[str]:
        """Class names collected with ``_kind(...)``, most specific first."""
        value = self[key]
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise AssertionError(f"could not tell the type of `{self.task.collect[key]}`.")
        return value

    def expect_kind(self, key: str, name: str, *classes: str) -> None:
        """The object is an instance of a class with one of these names. TFP's factories return
        private subclasses (``_Chain``, ``_Glow``), which count as their public class."""
        found = [qualified.rsplit(".", 1)[-1] for qualified in self.kind(key)]
        accepted = set(classes) | {"_" + c for c in classes}
        if not accepted & set(found):
            raise AssertionError(f"{name} should be a {' or '.join(classes)}, but it is a {found[0]}.")


@dataclass
class Verifier:
    """A lab's loaded verifier module."""

    lab: str
    path: Path
    tasks: dict[str, Task]
    make_probes: Callable[[np.random.Generator], dict]
    module: object = field(repr=False, default=None)

    def probes(self, seed: int) -> dict[str, np.ndarray]:
        """The probe arrays of the grading run with ``seed``."""
        return {name: np.asarray(value) for name, value in
                self.make_probes(np.random.default_rng(seed)).items()}

    def request(self, test: str, probes: dict[str, np.ndarray]) -> str:
        """The code that collects ``test``'s evidence in the student's kernel."""
        task = self.tasks[test]
        used = {name: encode_array(array) for name, array in probes.items()
                if any(f"_P.{name}" in expr for expr in task.collect.values())}
        return COLLECT_CALL.format(request=json.dumps({"probes": used, "items": task.collect}))

    def judge(self, test: str, values: dict, probes: dict,
              notes: list[str] | None = None) -> tuple[bool, str]:
        """``(passed, message)`` for ``test``; readings go to ``notes``. A judge that crashes on odd
        evidence fails the cell with the reason, so one student's strange value stops nothing."""
        task = self.tasks[test]
        try:
            task.judge(Evidence(task, values, probes, notes))
        except AssertionError as failure:
            return False, str(failure) or "a check failed"
        except Exception:  # noqa: BLE001  (a student's odd value must not crash the batch)
            detail = traceback.format_exc(limit=3).strip().splitlines()[-1]
            return False, f"the grader could not check this cell ({detail[:300]})"
        return True, ""


def verifier_path(lab: str, folder: Path) -> Path:
    return Path(folder) / f"{lab}.py"


_LOADED: dict[tuple[str, str], "Verifier"] = {}


def load(lab: str, folder: Path, graded_tests: list[str] | None = None) -> Verifier:
    """Load ``folder/<lab>.py``; with ``graded_tests``, check it has a task for each of them.

    A verifier already loaded from the same bytes is reused: the grading zygote loads it once, so
    every forked grading process starts with it (and TensorFlow, if it imports that) in memory.
    Verifier modules must therefore only import and define at import time, never run TF ops.
    """
    path = verifier_path(lab, folder)
    if not path.is_file():
        raise VerifierError(f"No verifier for {lab}: expected {path}. Every graded test cell is "
                            "scored by a trusted check there (see docs/grading.md).")
    key = (str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest())
    loaded = _LOADED.get(key) or _import(lab, path)
    _LOADED[key] = loaded
    missing = sorted(set(graded_tests or []) - set(loaded.tasks))
    if missing:
        raise VerifierError(f"The verifier {path} has no task for the graded cells {missing}.")
    return loaded


REFERENCE = course.AUTOGRADER / "reference"


def _module_from(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        # A module that failed half-way must not be found in sys.modules by the next load.
        del sys.modules[name]
        raise
    return module


def load_reference(name: str, folder: Path = REFERENCE):
    """``autograder/reference/<name>.py``: reference answers the verifiers, tests and benchmarks
    build with. They live outside the package so that student code cannot import them."""
    module_name = f"flowlab_reference_{name}"
    return sys.modules.get(module_name) or _module_from(Path(folder) / f"{name}.py", module_name)


def _import(lab: str, path: Path) -> Verifier:
    try:
        module = _module_from(path, f"flowlab_verifier_{lab}")
    except Exception as error:
        raise VerifierError(f"The verifier {path} does not load: {type(error).__name__}: {error}") from error
    tasks = {task.test: task for task in getattr(module, "TASKS", [])}
    if not callable(getattr(module, "probes", None)):
        raise VerifierError(f"The verifier {path} defines no probes(rng) function.")
    return Verifier(lab, path, tasks, module.probes, module)
