"""Student content made inert before anyone opens it: a preprocessor for nbgrader's autograde.

The autograded notebook is opened by instructors in formgrader and is rendered into the feedback
page students open, so whatever student code displayed, and whatever a student wrote in a markdown
or raw cell, could otherwise run script in their browser. Outputs keep only what cannot run: plain
text, base64 bitmaps, and HTML cleaned by nh3 (the Ammonia sanitizer). JavaScript, SVG, widgets
and every other rich type are dropped; markdown outputs are kept as plain text. Markdown and raw
cells that hold HTML are cleaned with nh3 too, and script links in markdown are disarmed.
"""

import re

import nh3
from nbgrader.preprocessors import NbGraderPreprocessor

BITMAPS = {"image/png", "image/jpeg", "image/gif"}
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*\Z")
# A complete HTML tag, comment or declaration, as a markdown renderer passes it through; math such
# as ``x_{<i}`` is no tag and is left alone.
HTML_TAG = re.compile(r"<(?:[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|/[A-Za-z][A-Za-z0-9-]*\s*>|!|\?)")
# A markdown link or reference whose target would run script: [text](javascript:...)
SCRIPT_LINK = re.compile(r"(\]\(\s*<?|\]:\s*<?|<)\s*((?:java|vb)script|data)\s*:", re.IGNORECASE)
REMOVED = "[{} output removed by the grader: only text, images and cleaned HTML are kept]"


def _text(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def safe_bundle(data: dict, metadata: dict) -> tuple[dict, dict]:
    """The inert part of one output's mime bundle, and the metadata the kept images need."""
    kept, dropped, markdown = {}, [], None
    for mime, value in data.items():
        text = _text(value)
        if text is None:
            dropped.append(mime)
        elif mime == "text/plain":
            kept[mime] = text
        elif mime == "text/html":
            kept[mime] = nh3.clean(text)
        elif mime in BITMAPS and BASE64.match(text):
            kept[mime] = text
        elif mime == "text/markdown":
            markdown = text
        else:
            dropped.append(mime)
    if markdown is not None and "text/plain" not in kept:
        kept["text/plain"] = markdown
    if not kept:
        kept["text/plain"] = REMOVED.format(", ".join(dropped) or "empty")
    # Only integer sizes: nbconvert writes image metadata into <img> attributes unescaped.
    sizes = {}
    for mime in BITMAPS & set(kept):
        given = metadata.get(mime) if isinstance(metadata, dict) else None
        if isinstance(given, dict):
            size = {k: v for k, v in given.items()
                    if k in ("width", "height") and isinstance(v, int) and not isinstance(v, bool)}
            if size:
                sizes[mime] = size
    return kept, sizes


def safe_markdown(source: str) -> str:
    """``source`` with its raw HTML cleaned by nh3 and script links disarmed; markdown without
    HTML is returned unchanged."""
    if HTML_TAG.search(source):
        # A '<' that starts no tag (math like x_{<i}) is text; escaped, nh3 cannot read it as one.
        source = nh3.clean(re.sub("<", lambda m: "<" if HTML_TAG.match(source, m.start()) else "&lt;",
                                  source))
    return SCRIPT_LINK.sub(lambda m: f"{m.group(1)}unsafe-{m.group(2)}:", source)


def _is_html_raw(cell) -> bool:
    declared = str(cell.metadata.get("format") or cell.metadata.get("raw_mimetype") or "html").lower()
    return "html" in declared or "markdown" in declared


class SanitizeOutputs(NbGraderPreprocessor):
    """Make every output, markdown cell and raw cell of the notebook inert (see module doc)."""

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if "data" in output:
                    output.data, output.metadata = safe_bundle(output.data, output.get("metadata", {}))
        elif cell.cell_type == "markdown":
            cell.source = safe_markdown(cell.source)
            attachments = cell.get("attachments") or {}
            for name in list(attachments):
                bundle = {mime: value for mime, value in attachments[name].items()
                          if mime in BITMAPS and isinstance(value, str) and BASE64.match(value)}
                if bundle:
                    attachments[name] = bundle
                else:
                    del attachments[name]
        elif cell.cell_type == "raw" and _is_html_raw(cell):
            cell.source = nh3.clean(cell.source)
        return cell, resources
