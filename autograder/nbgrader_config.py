"""nbgrader configuration for the flowlab course.

nbgrader's folders are mapped onto the repository: the reference notebooks in ``solutions/`` are
its *source*, the student notebooks in ``labs/`` its *release*. Everything grading produces
(submissions, autograded copies, feedback, the gradebook) goes to the ignored ``work/`` folder.

Use it through ``flowlab nbgrader ...`` from anywhere, or run ``nbgrader`` inside ``autograder/``.
The ``flowlab grade`` command overrides the work folder per run.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

c.CourseDirectory.course_id = "flowlab"
c.CourseDirectory.root = ROOT
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
c.CourseDirectory.submitted_directory = "work/submitted"
c.CourseDirectory.autograded_directory = "work/autograded"
c.CourseDirectory.feedback_directory = "work/feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "work", "gradebook.db")

# Training cells under the grading budget take tens of seconds; nbgrader's default is 30 s a cell.
c.Execute.timeout = 600
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
