"""Feedback without the hidden tests: a preprocessor for nbgrader's generate_feedback.

Students see every cell's outputs, so they learn which check failed and its message; they do not
see the hidden-test source. The hidden block is cut from test cells, tracebacks of those cells are
reduced to their last line (IPython's traceback quotes the failing source line), and any hidden
line that code printed elsewhere (e.g. by reading ``In``) is masked in every output.
"""

import re

from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN_BLOCK = re.compile(r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS.*?^[ \t]*#+[ \t]*END HIDDEN TESTS[^\n]*\n?",
                          re.MULTILINE | re.DOTALL)
PLACEHOLDER = "# (hidden tests: not shown in feedback)\n"
MASK = "[hidden test code]"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def hidden_lines(source: str) -> list[str]:
    """The non-trivial source lines inside the hidden blocks of ``source``."""
    lines = []
    for block in HIDDEN_BLOCK.findall(source):
        for line in block.splitlines()[1:-1]:
            if len(line.strip()) >= 8:
                lines.append(line.strip())
    return lines


def _mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden-test source from a notebook before it is rendered as feedback."""

    def preprocess(self, nb, resources):
        secrets, hidden_cells = [], set()
        for index, cell in enumerate(nb.cells):
            found = hidden_lines(cell.source)
            if found:
                secrets.extend(found)
                hidden_cells.add(index)
                cell.source = HIDDEN_BLOCK.sub(PLACEHOLDER, cell.source)
        # Longest first, so a line that contains a shorter secret is masked whole.
        secrets = sorted(set(secrets), key=len, reverse=True)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    if index in hidden_cells:
                        last = ANSI.sub("", output.traceback[-1]) if output.traceback else ""
                        output.traceback = [last or f"{output.ename}: {output.evalue}",
                                            "(traceback shortened: this test cell has hidden checks)"]
                    output.traceback = [_mask(line, secrets) for line in output.traceback]
                    output.evalue = _mask(output.evalue, secrets)
                elif output.output_type == "stream":
                    output.text = _mask(output.text, secrets)
                elif "data" in output:
                    for mime, value in output.data.items():
                        if isinstance(value, str) and mime.startswith("text/"):
                            output.data[mime] = _mask(value, secrets)
        return nb, resources
