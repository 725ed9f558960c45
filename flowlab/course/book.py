"""The self-study book: every reference notebook executed and rendered as a static site.

Sphinx with MyST-NB and sphinx-book-theme do the work. This module only prepares their source
folder and runs ``sphinx-build``:

* the book's configuration and landing page come from ``book/``;
* each lab is its solutions notebook with nbgrader's hidden tests removed (readers must not see
  them), a line of download links under its title, and a hidden first code cell that names the
  budget and a digest of the ``flowlab`` modules the labs import, and asks for sharp figures.
  jupyter-cache keys executed notebooks on their code, so that cell makes a change of budget or of
  the package re-execute the lab, while a prose edit reuses the cached run;
* labs without a cached run are executed side by side into that cache first
  (:mod:`flowlab.course.book_execute`), since MyST-NB executes one notebook at a time;
* the student notebook (``labs/``) and the solution notebook are copied next to it for download;
* MathJax comes from the ``django-static-mathjax`` wheel (plain MathJax 3 files; Django is not
  needed), so the site needs no network.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from flowlab import budgets, course

BOOK_CONFIG = course.ROOT / "book"
BUILD = course.ROOT / "build"
DEFAULT_OUT = BUILD / "book"
DEFAULT_CACHE = BUILD / "book-cache"

DOWNLOADS = "downloads"


def package_digest() -> str:
    """A digest of the flows library the notebooks import: ``flowlab/*.py``, not the course tooling
    in ``flowlab/course/``, so that editing the grader or the book does not re-run the labs."""
    package = course.ROOT / "flowlab"
    digest = hashlib.sha256()
    for module in sorted(package.glob("*.py")):
        digest.update(module.name.encode())
        digest.update(module.read_bytes())
    return digest.hexdigest()[:16]


def without_hidden_tests(lab: str) -> nbformat.NotebookNode:
    """The solutions notebook of ``lab`` with nbgrader's hidden test blocks removed."""
    from nbgrader.preprocessors import ClearHiddenTests

    notebook = nbformat.read(course.source_notebook(lab), as_version=4)
    notebook, _ = ClearHiddenTests().preprocess(notebook, {})
    leftovers = [i for i, cell in enumerate(notebook.cells) if "HIDDEN TESTS" in cell.source]
    if leftovers:
        raise ValueError(f"{lab}: cells {leftovers} still mention HIDDEN TESTS after stripping; "
                         "check the ### BEGIN/END HIDDEN TESTS markers in the solutions notebook.")
    return notebook


def reader_notebook(lab: str, budget: str) -> nbformat.NotebookNode:
    """The page of ``lab``: its notebook without hidden tests, with download links and cache key."""
    notebook = without_hidden_tests(lab)

    links = nbformat.v4.new_markdown_cell(
        f"Download: {{download}}`student notebook <{DOWNLOADS}/student/{lab}.ipynb>` "
        f"(the tasks, as released) · "
        f"{{download}}`reference solution <{DOWNLOADS}/solution/{lab}_solution.ipynb>` "
        f"(this page, without outputs).")
    book_setup = nbformat.v4.new_code_cell(
        f"# FLOWLAB_BUDGET={budget}; flowlab package digest {package_digest()}\n"
        "# Figures at twice the pixel density, shown at the same size: labels stay sharp.\n"
        "%config InlineBackend.figure_formats = ['retina']",
        metadata={"tags": ["remove-cell"]})
    first_code = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    notebook.cells.insert(first_code, book_setup)
    notebook.cells.insert(1, links)
    return notebook


def stage_mathjax(dest: Path) -> None:
    """Copy MathJax 3 (SVG output, its fonts built in) from the ``django-static-mathjax`` wheel."""
    import mathjax

    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    # The book loads tex-svg.js, which pulls extensions and the menu from here on demand; the other
    # combined builds are not used.
    shutil.copytree(es5, dest, ignore=shutil.ignore_patterns("*chtml*", "mml-*", "tex-mml-*",
                                                                "tex-svg-full*", "node-main*"))


def stage(source: Path, budget: str) -> Path:
    """Write the book's Sphinx source folder to ``source`` (replaced) and return it."""
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(BOOK_CONFIG, source, ignore=shutil.ignore_patterns("__pycache__"))

    stage_mathjax(source / "_static" / "mathjax")

    for lab in course.lab_names():
        student = course.release_notebook(lab)
        if not student.is_file():
            raise FileNotFoundError(f"{student} is missing; run `flowlab build` to generate labs/.")
        (source / DOWNLOADS / "student").mkdir(parents=True, exist_ok=True)
        (source / DOWNLOADS / "solution").mkdir(parents=True, exist_ok=True)
        shutil.copy(student, source / DOWNLOADS / "student" / f"{lab}.ipynb")
        nbformat.write(reader_notebook(lab, budget), source / f"{lab}.ipynb")
        nbformat.write(without_hidden_tests(lab),
                       source / DOWNLOADS / "solution" / f"{lab}_solution.ipynb")
    return source


def book_environment(budget: str) -> dict:
    """Environment of ``sphinx-build`` and so of every notebook kernel it starts."""
    env = dict(os.environ)
    env.update({
        budgets.BUDGET_VARIABLE: budget,
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONWARNINGS": "ignore",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    env.pop("MPLBACKEND", None)  # figures must come from the kernel's inline backend
    return env


def execute_side_by_side(source: Path, cache: Path, budget: str) -> None:
    """Run the staged labs that have no cached run, as many at once as there are cores, so that
    Sphinx finds them all in the cache (see :mod:`flowlab.course.book_execute`). Each kernel gets
    its share of the cores, as in grading. A lab that fails here is left to Sphinx, which runs it
    again and reports it."""
    from flowlab.course.grading.worker import share_threads, threads_per_kernel

    notebooks = [str(source / f"{lab}.ipynb") for lab in course.lab_names()]
    env = book_environment(budget)
    share_threads(env, threads_per_kernel(min(len(notebooks), os.cpu_count() or 1)))
    subprocess.run([sys.executable, "-m", "flowlab.course.book_execute", str(cache), *notebooks],
                   env=env, check=False)


def build(out: Path = DEFAULT_OUT, cache: Path = DEFAULT_CACHE, budget: str = "full",
          source: Path | None = None) -> Path:
    """Build the book into ``out`` with ``budget``; return the landing page. Raises on failure."""
    if budget not in budgets.BUDGET_NAMES:
        raise ValueError(f"{budget!r} is not a budget; use one of {', '.join(budgets.BUDGET_NAMES)}.")
    out, cache = Path(out).resolve(), Path(cache).resolve()
    source = stage(Path(source).resolve() if source else out.parent / f"{out.name}-source", budget)
    execute_side_by_side(source, cache, budget)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going",
               "-D", f"nb_execution_cache_path={cache}", str(source), str(out)]
    completed = subprocess.run(command, env=book_environment(budget), check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"sphinx-build failed (exit {completed.returncode}); its messages are above. "
                           f"Executed notebooks' tracebacks are under {out / 'reports'}.")
    return out / "index.html"
