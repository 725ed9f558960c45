"""One nbgrader job in its own process: ``python -m flowlab.course.grading.runner JOB.json``.

``template`` generates the lab's student version into a course folder (and its gradebook);
``grade`` autogrades one student there and renders the feedback. The job's result is written as
JSON next to the job file. The caller enforces the whole-notebook time limit by killing this
process group, so nothing here needs to clean up after a kill.
"""

import json
import sys
import traceback
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.converters import Autograde, GenerateAssignment, GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from nbgrader.utils import capture_log
from traitlets.config import Config, PyFileConfigLoader

from flowlab import course
from flowlab.course.grading.limits import CapOutput
from flowlab.course.grading.sanitize import SanitizeOutputs
from flowlab.course.grading.trusted import ApplyVerdicts, ExecuteWithEvidence


def config_for(job: dict) -> Config:
    """The course config with the folders, kernel and limits of this job."""
    config = PyFileConfigLoader(course.CONFIG.name, path=str(course.CONFIG.parent)).load_config()
    root = Path(job["course_root"]).resolve()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.source_directory = str(Path(job["source"]).resolve())
    config.CourseDirectory.release_directory = "release"
    config.CourseDirectory.submitted_directory = "submitted"
    config.CourseDirectory.autograded_directory = "autograded"
    config.CourseDirectory.feedback_directory = "feedback"
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    limits = job.get("limits") or {}
    if limits:
        config.Execute.timeout = limits["cell_timeout"]
        config.CapOutput.max_chars = limits["output_chars"]
        config.LimitOutput.max_lines = limits["output_lines"]
    if job.get("kernel_name"):
        config.Execute.kernel_name = job["kernel_name"]
        # Unix sockets: a kernel in its own network namespace cannot reach TCP loopback.
        config.KernelManager.transport = "ipc"
        # Without this jupyter_client puts the connection file (and the ipc sockets beside it) in
        # the host's /tmp, which the sandbox replaces with its own; the runtime folder is bound.
        config.KernelManager.connection_file = str(Path(job["runtime"]) / "kernel.json")
        config.Execute.startup_timeout = 30
    if job["action"] == "grade":
        config.ExecuteWithEvidence.lab = job["lab"]
        config.ExecuteWithEvidence.verifier_folder = str(Path(job["verifiers"]).resolve())
        config.ExecuteWithEvidence.probe_seed = job["probe_seed"]
        config.ApplyVerdicts.report = job["verdicts"]
    # The verdicts replace what the test cells raised before nbgrader saves the scores.
    config.Autograde.autograde_preprocessors = [
        ExecuteWithEvidence, ApplyVerdicts, CapOutput, SanitizeOutputs, IgnorePattern,
        ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    config.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor]
    return config


def run(app_class, config: Config, lab: str, student: str = "", **flags) -> dict:
    """Run one nbgrader converter app; its success, log and error as a dict."""
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = lab
    if student:
        coursedir.student_id = student
    app = app_class(coursedir=coursedir, config=config)
    for name, value in flags.items():
        setattr(app, name, value)
    return capture_log(app)


def main(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    config = config_for(job)
    Path(job["course_root"]).mkdir(parents=True, exist_ok=True)
    result: dict = {}
    try:
        if job["action"] == "template":
            result["generate"] = run(GenerateAssignment, config, job["lab"], force=True,
                                     create_assignment=True)
        else:
            result["autograde"] = run(Autograde, config, job["lab"], job["student"], force=True,
                                      create_student=True)
            if result["autograde"]["success"]:
                result["feedback"] = run(GenerateFeedback, config, job["lab"], job["student"],
                                         force=True)
    except Exception:  # noqa: BLE001  (reported to the caller, which decides the status)
        result["crash"] = traceback.format_exc()
    Path(job["result"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
