"""The book's side-by-side execution leaves runs in jupyter-cache that MyST-NB's cache lookup finds,
and leaves a failing notebook uncached, for Sphinx to run again and report."""

import nbformat
from jupyter_cache import get_cache

from flowlab.course import book_execute


def _notebook(path, source):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_runs_are_cached_where_myst_nb_looks_and_failures_are_not(tmp_path):
    good = _notebook(tmp_path / "good.ipynb", "print(6 * 7)")
    bad = _notebook(tmp_path / "bad.ipynb", "raise ValueError('broken lab')")
    failed = book_execute.execute(str(tmp_path / "cache"), [str(good), str(bad)])
    assert failed == 1
    cache = get_cache(str(tmp_path / "cache"))
    # MyST-NB matches the notebook it read from disk against the cache, as here.
    record = cache.match_cache_notebook(nbformat.read(good, as_version=4))
    _, executed = cache.merge_match_into_notebook(nbformat.read(good, as_version=4))
    assert record is not None and executed.cells[0].outputs[0].text == "42\n"
    assert [r.uri for r in cache.list_unexecuted()] == [str(bad)]
