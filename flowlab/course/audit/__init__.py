"""``flowlab audit``: prove each lab's graders right with the real autograder.

For every lab it grades, through ``flowlab grade``:

* every wrong answer in the lab's catalog, which must lose points on each test cell it declares
  (``loses``) and nowhere outside ``loses`` and ``may_lose``, without the grading crashing;
* every correct variant, which must get full marks;
* the reference answers with ``FLOWLAB_SEED`` 0 to 4, full marks every time;
* the partly wrong example three times, the same declared score every time;

and reads the margin of every trained-model threshold off the ``checks.expect_below`` lines. It
prints one row per task (wrong answers killed, collateral losses, correct variants accepted,
worst margin) and exits 1 on anything short of 100 %.

By default entries of different tasks share a submission when their verdicts stay separable
(:mod:`.plan`), and a shared submission with any surprise is graded again one entry at a time,
so a verdict against an entry is always its own; ``--isolated`` grades each entry alone.
"""

from pathlib import Path

from flowlab import course
from flowlab.course.audit.run import audit_lab
from flowlab.course.audit.table import report

AUDIT = course.WORK / "audit"

__all__ = ["AUDIT", "audit_lab", "main_audit", "report"]


def main_audit(labs: list[str] | None = None, out: Path = AUDIT, workers: int = 2,
               isolated: bool = False, seeds: int = 5, repeats: int = 3) -> int:
    """Audit ``labs`` (default: all), print the report and save it as ``out/report.txt``."""
    known = course.lab_names()
    unknown = [lab for lab in labs or [] if lab not in known]
    if unknown:
        raise ValueError(f"Unknown labs {unknown}; the labs are {', '.join(known)}.")
    audits = []
    for lab in labs or known:
        print(f"== auditing {lab}", flush=True)
        audits.append(audit_lab(lab, Path(out) / lab, workers, isolated, seeds, repeats,
                                progress=True))
    text = report(audits)
    print(text)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "report.txt").write_text(text + "\n")
    return 0 if not any(a.failures() for a in audits) else 1
