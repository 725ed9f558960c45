"""Submissions built from the reference: complete, untouched, and with catalogued mistakes.

Each lab has a catalog, ``autograder/catalog/<lab>.toml``: realistic wrong answers ("mutations")
and correct answers written differently from the reference ("variants"), each tied to the graded
task (the solution cell's ``grade_id``) it changes, as a text replacement in that cell. The example
submissions that ship with the course are the catalog applied to the reference solution::

    [[mutation]]
    id = "circles"                 # unique within the lab
    task = "make_moons"            # grade_id of the solution cell it edits
    kind = "wrong"                 # "wrong" must lose points, "correct" must keep them all
    description = "make_circles instead of make_moons"
    old = "make_moons("            # must occur exactly once in the reference answer
    new = "make_circles("
    loses = ["make_moons_test"]    # test cells that must lose points
    may_lose = []                  # test cells downstream that may lose points too

    [examples.partly_wrong]
    mutations = ["circles"]
    expected_score = 17            # the points the autograder must give

``complete`` (the reference answers, expected full marks) and ``untouched`` (the student notebook
as released, expected 0) need no entry.
"""

import copy
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from flowlab import course

CATALOGS = course.AUTOGRADER / "catalog"
EXAMPLES = course.AUTOGRADER / "examples"
_SOLUTION_BLOCK = re.compile(
    r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*\n?", re.M | re.S)


@dataclass(frozen=True)
class Mutation:
    """One catalogued change to one graded answer."""

    id: str
    task: str
    kind: str
    description: str
    old: str
    new: str
    loses: tuple = ()
    may_lose: tuple = ()


@dataclass(frozen=True)
class Catalog:
    """A lab's mutations, variants and example submissions."""

    lab: str
    mutations: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def reference_answers(lab: str) -> dict[str, str]:
    """The reference code of every solution cell of ``lab``, keyed by ``grade_id``.

    The solution markers are dropped and what they enclose is kept, as a student who wrote the
    reference answer in place of the stub would have it.
    """
    notebook = nbformat.read(course.source_notebook(lab), as_version=4)
    answers = {}
    for cell in notebook.cells:
        meta = _nbgrader(cell)
        if meta.get("solution") and cell.cell_type == "code":
            answers[meta["grade_id"]] = _SOLUTION_BLOCK.sub(r"\1", cell.source).rstrip("\n")
    return answers


def load_catalog(lab: str) -> Catalog:
    """Read and check ``autograder/catalog/<lab>.toml``; errors name the entry that is wrong."""
    path = CATALOGS / f"{lab}.toml"
    if not path.is_file():
        raise FileNotFoundError(f"{lab} has no catalog at {path}.")
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    answers = reference_answers(lab)
    mutations = {}
    for entry in raw.get("mutation", []):
        mutation = Mutation(**{**entry, "loses": tuple(entry.get("loses", ())),
                               "may_lose": tuple(entry.get("may_lose", ()))})
        where = f"{path.name}, mutation {mutation.id!r}"
        if mutation.id in mutations:
            raise ValueError(f"{where}: the id is used twice.")
        if mutation.kind not in ("wrong", "correct"):
            raise ValueError(f"{where}: kind must be 'wrong' or 'correct'.")
        if mutation.task not in answers:
            raise ValueError(f"{where}: no solution cell has grade_id {mutation.task!r}.")
        if mutation.kind == "wrong" and not mutation.loses:
            raise ValueError(f"{where}: a wrong answer must name the test cells it loses.")
        found = answers[mutation.task].count(mutation.old)
        if found != 1:
            raise ValueError(f"{where}: `old` occurs {found} times in the reference answer "
                             f"of {mutation.task!r}; it must occur exactly once.")
        mutations[mutation.id] = mutation
    examples = raw.get("examples", {})
    for name, example in examples.items():
        unknown = set(example.get("mutations", [])) - set(mutations)
        if unknown:
            raise ValueError(f"{path.name}, example {name!r}: unknown mutations {sorted(unknown)}.")
    return Catalog(lab, mutations, examples)


def mutated_answers(lab: str, mutation_ids=(), catalog: Catalog | None = None) -> dict[str, str]:
    """The reference answers of ``lab`` with the named catalog mutations applied."""
    catalog = catalog or load_catalog(lab)
    answers = reference_answers(lab)
    for mutation_id in mutation_ids:
        mutation = catalog.mutations[mutation_id]
        answers[mutation.task] = answers[mutation.task].replace(mutation.old, mutation.new, 1)
    return answers


def fill(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of the student notebook ``release`` with its solution cells replaced by ``answers``."""
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if _nbgrader(cell).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
    return notebook


def example_submissions(lab: str) -> dict[str, nbformat.NotebookNode]:
    """The example submissions of ``lab``: complete, untouched, and one per catalog example."""
    release = nbformat.read(course.release_notebook(lab), as_version=4)
    catalog = load_catalog(lab)
    examples = {"complete": fill(release, reference_answers(lab)), "untouched": release}
    for name, example in catalog.examples.items():
        examples[name] = fill(release, mutated_answers(lab, example.get("mutations", ()), catalog))
    return examples


def expected_scores(lab: str, total: float) -> dict[str, float]:
    """The score each example of ``lab`` must get, as declared in its catalog."""
    catalog = load_catalog(lab)
    expected = {"complete": total, "untouched": 0.0}
    for name, example in catalog.examples.items():
        expected[name] = float(example["expected_score"])
    return expected


def write_examples(lab: str, dest: Path = EXAMPLES) -> list[Path]:
    """Write ``lab``'s example submissions as ``dest/<lab>/<name>.ipynb``."""
    written = []
    for name, notebook in example_submissions(lab).items():
        path = Path(dest) / lab / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, path)
        written.append(path)
    return written


def total_points(lab: str) -> float:
    """The points ``lab`` is out of: the sum over its test cells."""
    notebook = nbformat.read(course.source_notebook(lab), as_version=4)
    return float(sum(_nbgrader(c).get("points", 0) for c in notebook.cells
                     if _nbgrader(c).get("grade")))
