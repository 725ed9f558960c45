"""Fast checks, no kernel: student outputs made inert, and the copy of results out of a scratch
folder that student code might have filled with symlinks."""

import os

import nbformat
import pytest

from flowlab.course.grading import copyback
from flowlab.course.grading.sanitize import SanitizeOutputs, safe_bundle, safe_markdown

MARK = "PWN" + "ED"


def test_html_outputs_are_cleaned_and_active_types_dropped():
    data = {"text/html": f"<b>kept</b><script>{MARK}()</script><img src=x onerror='{MARK}()'>"
                         f"<a href='javascript:{MARK}()'>a</a><iframe srcdoc='{MARK}'></iframe>",
            "application/javascript": f"{MARK}()", "image/svg+xml": f"<svg onload='{MARK}()'/>",
            "application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "plain"}
    kept, metadata = safe_bundle(data, {"image/svg+xml": {"isolated": True}})
    assert set(kept) == {"text/html", "text/plain"}
    assert "<b>kept</b>" in kept["text/html"] and MARK not in kept["text/html"]
    assert metadata == {}


def test_images_must_be_base64_with_integer_sizes():
    good = "iVBORw0KGgoAAAANSUhEUg=="
    kept, metadata = safe_bundle({"image/png": good, "image/jpeg": f'x" onerror="{MARK}()'},
                                 {"image/png": {"width": 30, "height": f'1" onload="{MARK}'}})
    assert kept == {"image/png": good}
    assert metadata == {"image/png": {"width": 30}}


def test_markdown_output_becomes_text_and_nothing_is_left_empty():
    kept, _ = safe_bundle({"text/markdown": f"<img src=x onerror={MARK}()>"}, {})
    assert kept == {"text/plain": f"<img src=x onerror={MARK}()>"}
    kept, _ = safe_bundle({"application/javascript": f"{MARK}()"}, {})
    assert list(kept) == ["text/plain"] and "application/javascript output removed" in kept["text/plain"]


def test_markdown_cells_lose_script_but_keep_math_and_text():
    plain = "Some *text* with math $x_{<i}$ and $a > b$."
    assert safe_markdown(plain) == plain
    cleaned = safe_markdown(f"Notes <img src=x onerror=\"{MARK}()\"> [link](javascript:{MARK}()) $x_{{<i}}$")
    assert "onerror" not in cleaned and "](javascript:" not in cleaned
    assert "Notes" in cleaned and "x_{&lt;i}" in cleaned


def test_preprocessor_cleans_every_kind_of_cell():
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x")
    code.outputs = [nbformat.v4.new_output("display_data", data={"text/html": f"<script>{MARK}</script>",
                                                                  "application/javascript": MARK})]
    markdown = nbformat.v4.new_markdown_cell(f"<svg onload='{MARK}()'></svg>")
    markdown.attachments = {"a.svg": {"image/svg+xml": "PHN2Zz4="}, "b.png": {"image/png": "iVBO"}}
    raw = nbformat.v4.new_raw_cell(f"<script>{MARK}</script>", metadata={"format": "text/html"})
    nb.cells = [code, markdown, raw]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    nb, _ = SanitizeOutputs().preprocess(nb, {})
    assert MARK not in nbformat.writes(nb)
    assert list(nb.cells[1].attachments) == ["b.png"]
    assert "widgets" not in nb.metadata


@pytest.fixture()
def planted(tmp_path):
    """A scratch folder as hostile code could leave it, and a file outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "nb.ipynb").write_text("notebook")
    (src / "sub" / "data.txt").write_text("data")
    (src / "to_file").symlink_to(outside / "secret.txt")
    (src / "to_dir").symlink_to(outside)
    (src / "dangling").symlink_to(tmp_path / "missing")
    os.mkfifo(src / "pipe")
    return src, outside


def test_copy_takes_regular_files_only_and_follows_no_symlink(tmp_path, planted):
    src, outside = planted
    budget = copyback.Budget()
    copyback.copy_tree(src, tmp_path / "dst", budget)
    copied = sorted(str(p.relative_to(tmp_path / "dst")) for p in (tmp_path / "dst").rglob("*"))
    assert copied == ["nb.ipynb", "sub", "sub/data.txt"]
    assert len(budget.left_out) == 4
    assert not (tmp_path / "missing").exists()
    assert (outside / "secret.txt").read_text() == "secret"


def test_copy_stops_at_its_cap(tmp_path, planted):
    src, _ = planted
    (src / "big.bin").write_bytes(b"x" * 5000)
    budget = copyback.Budget(max_files=10, max_bytes=1000)
    copyback.copy_tree(src, tmp_path / "dst", budget)
    assert not (tmp_path / "dst" / "big.bin").exists()
    assert any("big.bin" in note and "over the copy cap" in note for note in budget.left_out)
    assert (tmp_path / "dst" / "nb.ipynb").read_text() == "notebook"
