"""Trusted scoring inside nbgrader's autograde: evidence from the kernel, verdicts outside it.

:class:`ExecuteWithEvidence` runs the notebook as nbgrader's ``Execute`` does and, right after each
graded test cell, sends that cell's evidence request (:mod:`.verifier`) into the kernel and keeps
the decoded answer. The hidden checks never enter the kernel: only expressions and fresh probes do.

:class:`ApplyVerdicts` then judges every graded test cell in the grader's own process and rewrites
the cell's outputs so that nbgrader's ``SaveAutoGrades`` scores exactly the verdict: errors and
stderr that student code produced there are dropped, and a failed verdict adds one error output
that says what is wrong. The verdicts are also written as JSON for the grader's records.
"""

import json
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Integer, Unicode

from flowlab import evidence
from flowlab.course.grading import verifier

FAILED = "CheckFailed"
PASSED_NOTE = "Graded outside your notebook on fresh inputs: passed.\n"
NO_EVIDENCE = ("the notebook gave no answer to the grader's questions (the cell was interrupted, "
               "timed out, or display was changed)")


NOT_RUN_NOTE = ("Not run by the grader: no graded test comes after this cell, so it cannot change "
                "your score. Run it in your own notebook to see its output.\n")


def last_graded_test(nb) -> int | None:
    """Index of the notebook's last graded test cell; None if it has none."""
    found = [index for index, cell in enumerate(nb.cells) if graded_test(cell) is not None]
    return max(found) if found else None


def graded_test(cell) -> str | None:
    """The ``grade_id`` of a graded test cell (not an answer cell), else None."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution"):
        return meta.get("grade_id")
    return None


def read_evidence(outputs: list) -> dict:
    """The decoded evidence in the outputs of an evidence request, or one error for every key."""
    for output in outputs:
        payload = output.get("data", {}).get(evidence.MIME) if "data" in output else None
        if isinstance(payload, dict) and "results" in payload:
            try:
                return evidence.decode(payload["results"])
            except evidence.EvidenceError as error:
                return {"*": error}
    return {"*": evidence.EvidenceError(NO_EVIDENCE)}


class ExecuteWithEvidence(Execute):
    """nbgrader's Execute, collecting each graded test cell's evidence right after the cell."""

    lab = Unicode("", help="the lab whose verifier supplies the requests").tag(config=True)
    verifier_folder = Unicode("", help="folder of the labs' verifier modules").tag(config=True)
    probe_seed = Integer(0, help="seed of this run's probe inputs").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        lab_verifier = verifier.load(self.lab, Path(self.verifier_folder))
        state = {"verifier": lab_verifier, "probes": lab_verifier.probes(self.probe_seed),
                 "evidence": {}, "seed": self.probe_seed,
                 "last_test": last_graded_test(nb)}
        resources = resources if resources is not None else {}
        resources["flowlab"] = state
        self._flowlab = state
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        last_test = self._flowlab["last_test"]
        if cell.cell_type == "code" and last_test is not None and index > last_test:
            # Evidence is taken right after each test cell, so nothing after the last one can
            # change a score; lessons that follow (lab 02's ablation, timing and improved flow)
            # would only make every student's grading slower.
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOT_RUN_NOTE)]
            return cell, resources
        cell, resources = super().preprocess_cell(cell, resources, index)
        test = graded_test(cell)
        state = self._flowlab
        if test in state["verifier"].tasks:
            request = nbformat.v4.new_code_cell(state["verifier"].request(test, state["probes"]))
            # nbclient files a cell's outputs by its index, so the request runs as a last cell
            # that exists only while it runs.
            self.nb.cells.append(request)
            try:
                self.execute_cell(request, len(self.nb.cells) - 1, store_history=False)
            finally:
                self.nb.cells.pop()
            state["evidence"][test] = read_evidence(request.outputs)
        return cell, resources


def _student_outputs(outputs: list) -> tuple[list, bool, list[str]]:
    """What student code showed in a test cell, minus anything nbgrader would score; whether the
    notebook's own (visible) checks failed there; and the names of the errors raised there (the
    grader's notes need them: a MemoryError or cell time-out here is the limits' doing)."""
    kept, failed, raised = [], False, []
    for output in outputs:
        if output.output_type == "error":
            failed = True
            raised.append(output.get("ename", ""))
        elif output.output_type == "stream" and output.name == "stderr":
            failed = True
        elif output.output_type == "execute_result":
            # nbgrader reads a number shown as a cell's result as partial credit.
            kept.append(NotebookNode(output_type="display_data", data=output.data, metadata={}))
        else:
            kept.append(output)
    return kept, failed, raised


class ApplyVerdicts(NbGraderPreprocessor):
    """Decide every graded test cell from its evidence; make the cell's outputs say so."""

    report = Unicode("", help="where to write the verdicts as JSON").tag(config=True)

    def preprocess(self, nb, resources):
        state = resources.get("flowlab")
        if state is None:
            raise verifier.VerifierError("ApplyVerdicts needs ExecuteWithEvidence before it")
        verdicts = {}
        for cell in nb.cells:
            test = graded_test(cell)
            if test is None:
                continue
            if test not in state["verifier"].tasks:
                raise verifier.VerifierError(f"{state['verifier'].path} has no task for {test}")
            values = state["evidence"].get(test, {"*": evidence.EvidenceError(NO_EVIDENCE)})
            if "*" in values:
                values = {key: values["*"] for key in state["verifier"].tasks[test].collect}
            notes: list[str] = []
            passed, message = state["verifier"].judge(test, values, state["probes"], notes)
            kept, notebook_failed, raised = _student_outputs(cell.outputs)
            verdict_lines = "".join(f"{line}\n" for line in notes)
            if passed:
                kept.append(nbformat.v4.new_output("stream", name="stdout", text=verdict_lines + PASSED_NOTE))
            else:
                if verdict_lines:
                    kept.append(nbformat.v4.new_output("stream", name="stdout", text=verdict_lines))
                kept.append(nbformat.v4.new_output("error", ename=FAILED, evalue=message,
                                                   traceback=[f"{FAILED}: {message}"]))
            cell.outputs = kept
            verdicts[test] = {"passed": passed, "message": message, "notes": notes,
                              "notebook_failed": notebook_failed, "raised": raised}
        if self.report:
            Path(self.report).write_text(json.dumps({"seed": state["seed"], "verdicts": verdicts}))
        return nb, resources
