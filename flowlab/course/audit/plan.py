"""Which submissions an audit grades: mutants packed so that they can share a notebook, correct
variants, the reference at several seeds, and repeats of the partly wrong example.

Grading every catalog entry as its own notebook costs one full training run per entry. Entries
of different tasks can share a notebook as long as each one's verdict stays its own: at most one
entry per task, and no entry's ``loses`` test may be one that another entry of the notebook
declares it changes (``loses`` or ``may_lose``). A shared notebook whose result is anything but
what its entries declare is graded again one entry per notebook (see :mod:`.verdicts`).
"""

import copy
from dataclasses import dataclass

import nbformat

from flowlab.course import submissions

SEED_LINE = 'os.environ["FLOWLAB_SEED"] = "{seed}"'


@dataclass(frozen=True)
class Trial:
    """One submission the audit grades.

    ``kind`` is ``wrong`` or ``correct`` (catalog entries, ``mutations`` their ids), ``seed`` (the
    reference answers run with ``FLOWLAB_SEED = seed``), ``repeat`` (the partly wrong example,
    graded again under another name) or ``untouched`` (the student notebook as released).
    """

    name: str
    kind: str
    mutations: tuple[str, ...] = ()
    seed: int | None = None


def _touched(mutation: submissions.Mutation) -> set[str]:
    return set(mutation.loses) | set(mutation.may_lose)


def _fits(mutation: submissions.Mutation, group: list[submissions.Mutation]) -> bool:
    for other in group:
        if other.task == mutation.task:
            return False
        if set(mutation.loses) & _touched(other) or set(other.loses) & _touched(mutation):
            return False
    return True


def pack(mutations: list[submissions.Mutation]) -> list[list[submissions.Mutation]]:
    """Group ``mutations`` (first fit, in the given order) into notebooks whose verdicts stay
    separable: one entry per task, and no entry's lost tests touched by another entry."""
    groups: list[list[submissions.Mutation]] = []
    for mutation in mutations:
        home = next((group for group in groups if _fits(mutation, group)), None)
        if home is None:
            groups.append([mutation])
        else:
            home.append(mutation)
    return groups


def _in_task_order(catalog: submissions.Catalog, kind: str, tasks: list[str]) -> list:
    order = {task: index for index, task in enumerate(tasks)}
    chosen = [m for m in catalog.mutations.values() if m.kind == kind]
    return sorted(chosen, key=lambda m: order.get(m.task, len(order)))


def trials(catalog: submissions.Catalog, tasks: list[str], isolated: bool = False, seeds: int = 5,
           repeats: int = 3) -> list[Trial]:
    """Every submission an audit of ``catalog``'s lab grades, named as student ids.

    ``tasks`` are the lab's solution cells in notebook order. With ``isolated`` every catalog
    entry gets a notebook of its own.
    """
    planned = []
    for kind in ("wrong", "correct"):
        entries = _in_task_order(catalog, kind, tasks)
        groups = [[m] for m in entries] if isolated else pack(entries)
        planned += [Trial(f"{kind}-{index:02d}", kind, tuple(m.id for m in group))
                    for index, group in enumerate(groups, 1)]
    planned += [Trial(f"seed-{seed}", "seed", seed=seed) for seed in range(seeds)]
    planned.append(Trial("untouched", "untouched"))
    partly_wrong = tuple(catalog.examples.get("partly_wrong", {}).get("mutations", ()))
    if partly_wrong:
        planned += [Trial(f"repeat-{index}", "repeat", partly_wrong)
                    for index in range(1, repeats + 1)]
    return planned


def with_seed(notebook: nbformat.NotebookNode, seed: int) -> nbformat.NotebookNode:
    """``notebook`` with ``FLOWLAB_SEED`` set to ``seed`` in its set-up cell, before anything is
    seeded: the run a student would get with that seed, graded by the unchanged autograder."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and "import os\n" in cell.source:
            cell.source = cell.source.replace(
                "import os\n", "import os\n" + SEED_LINE.format(seed=seed) + "\n", 1)
            return notebook
    raise ValueError("The notebook has no set-up cell with `import os` to set FLOWLAB_SEED in.")


def notebook_for(trial: Trial, lab: str, release: nbformat.NotebookNode,
                 catalog: submissions.Catalog) -> nbformat.NotebookNode:
    """The submission ``trial`` grades: the release filled with (mutated) reference answers."""
    if trial.kind == "untouched":
        return copy.deepcopy(release)
    answers = submissions.mutated_answers(lab, trial.mutations, catalog)
    notebook = submissions.fill(release, answers)
    return with_seed(notebook, trial.seed) if trial.seed is not None else notebook
