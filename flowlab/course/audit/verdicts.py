"""What the graded audit submissions prove: each catalog entry's verdict, the reference's stability
over seeds, the partly wrong example's repeatability, and the margins of the trained-model
thresholds. Pure functions of the scores; grading happens in :mod:`.run`.
"""

from dataclasses import dataclass, field

from flowlab.course import submissions

GRADED = "graded"
MIN_WRONG_PER_TASK = 3


@dataclass(frozen=True)
class Reading:
    """One ``checks.expect_below`` line of an autograded notebook: ``name: value (threshold limit)``."""

    test: str
    name: str
    value: float
    limit: float


@dataclass
class Graded:
    """One graded audit submission: status, points per test cell, threshold readings."""

    status: str
    reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    readings: list[Reading] = field(default_factory=list)
    flags: str = ""
    cell_problems: list[str] = field(default_factory=list)

    def lost(self, points: dict[str, float]) -> set[str]:
        """Test cells that got less than their points."""
        return {test for test, full in points.items() if self.scores.get(test, 0.0) < full}


@dataclass(frozen=True)
class EntryVerdict:
    """A catalog entry's result: for a wrong answer, the declared losses that did not happen
    (``kept``) and the undeclared ones that did (``collateral``); for a correct one, every loss is
    collateral."""

    mutation: submissions.Mutation
    trial: str
    shared: bool
    status: str
    reason: str = ""
    kept: tuple[str, ...] = ()
    collateral: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == GRADED and not self.kept and not self.collateral

    def problem(self) -> str:
        """Why this entry fails the audit ('' if it passes)."""
        where = f"{self.mutation.kind} entry {self.mutation.id!r} (task {self.mutation.task})"
        if self.status != GRADED:
            return f"{where}: grading ended {self.status}: {self.reason}"
        parts = []
        if self.kept:
            parts.append(f"kept full points on {', '.join(self.kept)}")
        if self.collateral:
            parts.append(f"lost points on undeclared {', '.join(self.collateral)}")
        return f"{where}: {'; '.join(parts)}" if parts else ""


def judge(group: list[submissions.Mutation], trial: str, graded: Graded,
          points: dict[str, float]) -> list[EntryVerdict]:
    """Verdicts of the entries sharing one graded submission.

    A loss outside every entry's declared tests cannot be pinned on one entry, so it counts
    against all of them; :func:`needs_regrading` then sends them to be graded alone.
    """
    shared = len(group) > 1
    if graded.status != GRADED:
        return [EntryVerdict(m, trial, shared, graded.status, graded.reason) for m in group]
    lost = graded.lost(points)
    declared = set().union(*(set(m.loses) | set(m.may_lose) for m in group))
    unexplained = tuple(sorted(lost - declared))
    verdicts = []
    for mutation in group:
        if mutation.kind == "wrong":
            kept = tuple(test for test in mutation.loses if test not in lost)
            verdicts.append(EntryVerdict(mutation, trial, shared, GRADED, "", kept, unexplained))
        else:
            verdicts.append(EntryVerdict(mutation, trial, shared, GRADED, "", (),
                                         tuple(sorted(lost))))
    return verdicts


def needs_regrading(verdicts: list[EntryVerdict]) -> bool:
    """A shared submission with any unexpected result: grade its entries one by one, so that
    every verdict against an entry is that entry's own."""
    return any(v.shared for v in verdicts) and not all(v.ok for v in verdicts)


@dataclass(frozen=True)
class Threshold:
    """A trained-model threshold: the reference's worst value over the seeds, and the wrong entry
    that came closest to passing it (among those declared to lose its test)."""

    test: str
    name: str
    limit: float
    reference_worst: float
    seeds: int
    closest_wrong: float | None = None
    closest_wrong_id: str = ""

    @property
    def margin(self) -> float:
        return self.limit - self.reference_worst


def threshold_margins(seed_runs: dict[int, Graded], wrong_runs: list[tuple[list, Graded]]) -> list[Threshold]:
    """One :class:`Threshold` per ``expect_below`` line of the reference runs."""
    worst: dict[tuple[str, str], tuple[float, float, int]] = {}
    for graded in seed_runs.values():
        for reading in graded.readings:
            key = (reading.test, reading.name)
            value, _, count = worst.get(key, (float("-inf"), reading.limit, 0))
            worst[key] = (max(value, reading.value), reading.limit, count + 1)
    closest: dict[tuple[str, str], tuple[float, str]] = {}
    for group, graded in wrong_runs:
        for reading in graded.readings:
            owners = [m.id for m in group if reading.test in m.loses]
            key = (reading.test, reading.name)
            if len(owners) == 1 and reading.value < closest.get(key, (float("inf"), ""))[0]:
                closest[key] = (reading.value, owners[0])
    return [Threshold(test, name, limit, value, count, *closest.get((test, name), (None, "")))
            for (test, name), (value, limit, count) in worst.items()]


@dataclass
class LabAudit:
    """Everything one lab's audit found.

    ``wrong_runs`` pairs each graded wrong-answer submission with its entries; ``repeat_group``
    holds the partly wrong example's entries, ``untouched`` the student notebook as released.
    """

    lab: str
    tasks: list[str]
    points: dict[str, float]
    entries: list[EntryVerdict]
    seeds: dict[int, Graded]
    repeats: list[Graded]
    repeat_group: list[submissions.Mutation]
    repeat_expected: float | None
    untouched: Graded | None
    wrong_runs: list[tuple[list, Graded]]
    gradings: int = 0
    seconds: float = 0.0
    graded_dir: str = ""

    @property
    def thresholds(self) -> list[Threshold]:
        return threshold_margins(self.seeds, self.wrong_runs)

    def never_failed(self) -> list[str]:
        """Test cells that no wrong answer made lose points: tests nothing shows can fail."""
        lost = set()
        for _, graded in self.wrong_runs:
            if graded.status == GRADED:
                lost |= graded.lost(self.points)
        return [test for test in self.points if test not in lost]

    def failures(self) -> list[str]:
        """Every way the lab's tests fell short; empty when everything is proven."""
        problems = [v.problem() for v in self.entries if not v.ok]
        problems += self._catalog_gaps() + self._stability_problems()
        if self.untouched is None or self.untouched.status != GRADED:
            problems.append("the untouched notebook was not graded")
        else:
            scored = sorted(t for t, v in self.untouched.scores.items() if t in self.points and v)
            if scored:
                problems.append(f"the untouched notebook got points on {', '.join(scored)}")
        problems += [f"{test} lost no points for any wrong answer" for test in self.never_failed()]
        for threshold in self.thresholds:
            if threshold.margin <= 0:
                problems.append(f"{threshold.name} reached {threshold.reference_worst:.4f} for the "
                                f"reference, not below {threshold.limit:g}")
        return [f"{self.lab}: {problem}" for problem in problems]

    def _catalog_gaps(self) -> list[str]:
        gaps = []
        for task in self.tasks:
            wrong = sum(1 for v in self.entries
                        if v.mutation.task == task and v.mutation.kind == "wrong")
            if wrong < MIN_WRONG_PER_TASK:
                gaps.append(f"task {task} has {wrong} wrong answers in the catalog; at least "
                            f"{MIN_WRONG_PER_TASK} are needed")
        return gaps

    def _stability_problems(self) -> list[str]:
        problems = []
        for seed, graded in sorted(self.seeds.items()):
            where = f"the reference at seed {seed}"
            if graded.status != GRADED:
                problems.append(f"{where} was not graded: {graded.status} {graded.reason}")
                continue
            lost = sorted(graded.lost(self.points))
            if lost:
                problems.append(f"{where} lost points on {', '.join(lost)}")
            if graded.flags:
                problems.append(f"{where} was flagged: {graded.flags}")
            problems += [f"{where}: {problem}" for problem in graded.cell_problems]
        totals = [self.total(g) for g in self.repeats]
        if self.repeats and (len(set(totals)) != 1 or totals[0] != self.repeat_expected):
            problems.append(f"the partly wrong example scored {totals} over {len(totals)} "
                            f"gradings; expected {self.repeat_expected:g} every time")
        for index, graded in enumerate(self.repeats, 1):
            problems += [f"partly wrong example, grading {index}: {v.problem()}"
                         for v in judge(self.repeat_group, f"repeat-{index}", graded, self.points)
                         if not v.ok and v.mutation.kind == "wrong"]
        return problems

    def total(self, graded: Graded) -> float | None:
        if graded.status != GRADED:
            return None
        return sum(graded.scores.get(test, 0.0) for test in self.points)
