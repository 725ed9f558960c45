"""The limits every student's kernel runs under, and the output cap applied to what it printed.

Defaults (also in ``docs/grading.md``): 120 s a cell, 900 s a notebook, 4 GiB of address space,
10 000 characters per output and 1000 lines of stream output per cell, 256 MiB per written file,
no network (when sandboxed).
"""

from dataclasses import asdict, dataclass

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

TRUNCATED = "\n... output truncated by the grader ({} characters cut) ...\n"


@dataclass(frozen=True)
class Limits:
    """Resource limits for one student's grading run."""

    cell_timeout: int = 120
    """Seconds a cell may run before it is interrupted and scored as failed."""
    notebook_timeout: int = 900
    """Seconds the whole autograde of one notebook may take before it is killed."""
    memory_mb: int = 4096
    """Address-space cap of the kernel (RLIMIT_AS), in MiB."""
    output_chars: int = 10_000
    """Characters kept of each output (stream text, text/plain, text/html, traceback)."""
    output_lines: int = 1000
    """Stream lines kept per cell (nbgrader's LimitOutput)."""
    file_mb: int = 256
    """Largest file the kernel may write (RLIMIT_FSIZE), in MiB."""

    def as_dict(self) -> dict:
        """Plain dict, for JSON job files and cache keys."""
        return asdict(self)


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (head and tail kept), saying how much was cut."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    head = limit * 3 // 4
    return text[:head] + TRUNCATED.format(cut) + text[len(text) - (limit - head):]


def _cap_value(value, limit: int):
    if isinstance(value, str):
        return cap_text(value, limit)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return cap_text("".join(value), limit)
    return value


class CapOutput(NbGraderPreprocessor):
    """Cut every output to ``Limits.output_chars`` characters.

    nbgrader's own LimitOutput counts lines, so one 50 MB line passes it; this caps characters, and
    drops rich outputs (images, HTML) larger than the cap instead of storing them.
    """

    max_chars = Integer(Limits.output_chars, help="characters kept per output").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                output.text = cap_text(output.text, self.max_chars)
            elif output.output_type == "error":
                output.evalue = cap_text(output.evalue, self.max_chars)
                kept, total = [], 0
                for line in output.traceback:
                    total += len(line)
                    if total > self.max_chars:
                        kept.append("... traceback truncated by the grader ...")
                        break
                    kept.append(line)
                output.traceback = kept
            elif "data" in output:
                for mime in list(output.data):
                    value = output.data[mime]
                    size = len(value) if isinstance(value, str) else len(str(value))
                    if mime.startswith("text/"):
                        output.data[mime] = _cap_value(value, self.max_chars)
                    elif size > 4 * self.max_chars + 200_000:
                        # A plot is fine; a multi-megabyte blob is not worth storing in feedback.
                        del output.data[mime]
                        output.data.setdefault("text/plain", f"[{mime} output removed: too large]")
        return cell, resources
