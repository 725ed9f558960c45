"""The audit report: one row per graded task, the stability of each lab, the threshold margins."""

from flowlab.course.audit.verdicts import LabAudit, Threshold


def _fraction(good: int, total: int) -> str:
    return f"{good}/{total}" if total else "-"


def _task_margin(audit: LabAudit, task: str) -> str:
    guarded = {test for v in audit.entries if v.mutation.task == task
               and v.mutation.kind == "wrong" for test in v.mutation.loses}
    margins = [t for t in audit.thresholds if t.test in guarded]
    if not margins:
        return "-"
    worst = min(margins, key=lambda t: t.margin)
    return f"{worst.margin:.3f}"


def task_rows(audit: LabAudit) -> list[list[str]]:
    """lab, task, wrong answers killed, collateral losses, correct variants accepted, worst margin."""
    rows = []
    for task in audit.tasks:
        wrong = [v for v in audit.entries if v.mutation.task == task and v.mutation.kind == "wrong"]
        correct = [v for v in audit.entries if v.mutation.task == task
                   and v.mutation.kind == "correct"]
        killed = sum(1 for v in wrong if v.status == "graded" and not v.kept)
        collateral = sum(1 for v in wrong if v.collateral or v.status != "graded")
        rows.append([audit.lab, task, _fraction(killed, len(wrong)), str(collateral),
                     _fraction(sum(1 for v in correct if v.ok), len(correct)),
                     _task_margin(audit, task)])
    return rows


def _columns(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _stability(audit: LabAudit) -> str:
    full = sum(audit.points.values())
    seeds = sorted(audit.seeds)
    clean = sum(1 for s in seeds if audit.total(audit.seeds[s]) == full)
    line = (f"{audit.lab}: reference at seeds {seeds[0]}-{seeds[-1]}: {clean}/{len(seeds)} full marks"
            if seeds else f"{audit.lab}: no seed runs")
    if audit.repeats:
        totals = ", ".join("-" if audit.total(g) is None else f"{audit.total(g):g}"
                           for g in audit.repeats)
        line += (f"; partly wrong graded {len(audit.repeats)}x: {totals} "
                 f"(expected {audit.repeat_expected:g})")
    if audit.untouched is not None:
        untouched = audit.total(audit.untouched)
        line += f"; untouched: {'-' if untouched is None else f'{untouched:g}'}/{full:g}"
    return line + f"; {audit.gradings} notebooks graded in {audit.seconds:.0f} s"


def _threshold_row(lab: str, threshold: Threshold) -> list[str]:
    closest = ("-" if threshold.closest_wrong is None
               else f"{threshold.closest_wrong:.3f} ({threshold.closest_wrong_id})")
    return [lab, threshold.test, threshold.name, f"{threshold.limit:g}",
            f"{threshold.reference_worst:.3f} ({threshold.seeds} seeds)", f"{threshold.margin:.3f}",
            closest]


def report(audits: list[LabAudit]) -> str:
    """The whole report, ending with every failure (or a line saying there is none)."""
    header = ["lab", "task", "wrong killed", "collateral losses", "correct accepted",
              "worst margin"]
    parts = [_columns(header, [row for a in audits for row in task_rows(a)]), ""]
    parts += [_stability(a) for a in audits]
    thresholds = [_threshold_row(a.lab, t) for a in audits for t in a.thresholds]
    if thresholds:
        parts += ["", "Thresholds on trained models (value must be below the threshold):",
                  _columns(["lab", "test", "check", "threshold", "reference worst", "margin",
                            "closest wrong answer"], thresholds)]
    failures = [problem for a in audits for problem in a.failures()]
    parts.append("")
    if failures:
        parts.append(f"FAILED: {len(failures)} problems")
        parts += [f"  - {problem}" for problem in failures]
    else:
        parts.append("Every wrong answer lost points on its own task and nowhere undeclared, every "
                     "correct variant got full marks, and every stability run held.")
    return "\n".join(parts)
