"""How good the graders are: every catalog entry of every lab graded in a notebook of its own.

    .venv/bin/python benchmarks/graders.py [LAB ...] [--shared]

Prints the audit table (lab / task / wrong answers killed / collateral losses / correct variants
accepted / worst threshold margin), the reference's stability over seeds 0-4, the partly wrong
example graded three times, and each trained-model threshold against the reference's worst value
and the wrong answer that came closest. The test suite runs the same audit with entries sharing
notebooks (``--shared`` here); this grades each entry alone, so a verdict can't be masked by a
neighbour. Exit status 1 on anything short of 100 %.
"""

import argparse
import os
import sys
import time

from flowlab import course
from flowlab.course import audit

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="labs (default: all)")
    parser.add_argument("--shared", action="store_true", help="pack entries as the tests do")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.monotonic()
    status = audit.main_audit(args.labs or None, course.WORK / "bench-audit", args.workers,
                              isolated=not args.shared)
    print(f"\nWall time {time.monotonic() - started:.0f} s with {args.workers} workers; "
          f"load average now {os.getloadavg()[0]:.1f}.")
    sys.exit(status)
