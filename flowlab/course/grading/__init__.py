"""Course-scale grading around nbgrader: ``flowlab grade LAB SUBMISSIONS --out DIR``.

The pieces, one job each:

* :mod:`.intake` finds the submissions (folder, zip or nbgrader's ``submitted/`` layout), takes the
  student id from the file name and rejects files that are not a notebook of the lab;
* :mod:`.tamper` compares a submission with the student notebook and scans its code, naming what
  needs a human look;
* :mod:`.limits` holds the limits every kernel runs under; :mod:`.sandbox` and :mod:`.launcher`
  start the kernel inside bubblewrap with those limits;
* :mod:`.runner` is the subprocess that runs nbgrader's autograde and feedback for one student in
  that student's own scratch course; :mod:`.worker` starts it, enforces the whole-notebook time
  limit and says what happened;
* :mod:`.gradebook` copies a graded submission into the course gradebook (one writer at a time);
* :mod:`.batch` ties it together (parallel workers, resume, Ctrl-C), :mod:`.report` writes the
  grades CSV and summary, :mod:`.shard` slices and merges work across machines.
"""
