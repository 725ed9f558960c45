"""The self-study book in a real browser: built with the grading budget, served from 127.0.0.1 and
opened from disk, every page must load cleanly, offline, with its figures, typeset math, working
search and links that resolve.

Set ``FLOWLAB_TEST_BOOK`` to the folder of a book built with ``flowlab book`` to check that one
instead of building (for iterating on these tests), and ``FLOWLAB_TEST_BOOK_CACHE`` to its cache
unless that is ``cache/`` beside it (``build/book`` has ``build/book-cache``).
"""

import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser_support import LocalServer, PageRecord, launch_chromium

from flowlab import course
from flowlab.course import book

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LABS = course.lab_names()
MATHJAX_READY = "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
MATHJAX_DONE = "() => MathJax.startup.promise.then(() => true)"
UNTYPESET = """() => [...document.querySelectorAll('.math')]
    .filter(el => !el.querySelector('mjx-container svg') || el.querySelector('mjx-merror'))
    .map(el => el.textContent.slice(0, 60))"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    prebuilt = os.environ.get("FLOWLAB_TEST_BOOK")
    if prebuilt:
        return Path(prebuilt)
    root = tmp_path_factory.mktemp("book")
    index = book.build(root / "book", root / "cache", budget="grading")
    return index.parent


@pytest.fixture(scope="module")
def server(site):
    local = LocalServer(site)
    yield local
    local.close()


@pytest.fixture(scope="module")
def browser():
    chromium = launch_chromium()
    yield chromium
    chromium.close()


def pages(site: Path) -> list[str]:
    return sorted(path.name for path in site.glob("*.html"))


def figures_in_executed(site: Path, lab: str) -> int:
    """Image outputs of the lab's executed notebook, as jupyter-cache stored it for this build
    (cells the book hides excluded). The cache sits beside the site (``cache/``, or the folder in
    ``FLOWLAB_TEST_BOOK_CACHE``), the staged notebooks in ``<site>-source/``."""
    from jupyter_cache import get_cache

    cache = get_cache(os.environ.get("FLOWLAB_TEST_BOOK_CACHE") or site.parent / "cache")
    staged = nbformat.read(site.parent / f"{site.name}-source" / f"{lab}.ipynb", as_version=4)
    _, executed = cache.merge_match_into_notebook(staged)
    return sum(1 for cell in executed.cells if cell.cell_type == "code"
               and "remove-cell" not in cell.metadata.get("tags", [])
               for output in cell.get("outputs", []) if "image/png" in output.get("data", {}))


def open_page(browser, url: str):
    record = PageRecord()
    page = record.watch(browser.new_page())
    page.goto(url, wait_until="networkidle")
    return page, record


def test_the_site_has_a_page_per_lab_and_hides_hidden_tests(site):
    assert {f"{lab}.html" for lab in LABS} <= set(pages(site)), pages(site)
    for path in [*site.rglob("*.html"), *site.rglob("*.ipynb"), *site.rglob("*.txt")]:
        assert "HIDDEN TESTS" not in path.read_text(errors="replace"), f"{path} shows hidden tests"


def test_download_links_serve_the_student_and_the_solution_notebook(site):
    for lab in LABS:
        html = (site / f"{lab}.html").read_text()
        student = re.search(rf'href="(_downloads/[^"]+/{lab}\.ipynb)"', html)
        solution = re.search(rf'href="(_downloads/[^"]+/{lab}_solution\.ipynb)"', html)
        assert student and solution, f"{lab}: download links missing"
        assert (site / student[1]).read_bytes() == course.release_notebook(lab).read_bytes()
        reference = nbformat.read(site / solution[1], as_version=4)
        assert any("### BEGIN SOLUTION" in cell.source for cell in reference.cells)


def test_every_page_loads_offline_with_figures_and_typeset_math(site, server, browser):
    problems = []
    for name in pages(site):
        page, record = open_page(browser, server.url + name)
        has_math = page.evaluate("() => document.querySelectorAll('.math').length") > 0
        if has_math:
            page.wait_for_function(MATHJAX_READY, timeout=30_000)
            page.evaluate(MATHJAX_DONE)
            untypeset = page.evaluate(UNTYPESET)
            if untypeset:
                problems.append(f"{name}: formulas not typeset: {untypeset[:3]}")
        text = page.evaluate("() => document.body.innerText")
        for raw in ("$$", "\\[", "\\("):
            if raw in text:
                problems.append(f"{name}: raw {raw!r} in the visible text")
        images = page.evaluate("""() => [...document.querySelectorAll('article img')].map(img => ({
            src: img.getAttribute('src'), complete: img.complete,
            width: img.naturalWidth, height: img.naturalHeight,
            shown: img.getBoundingClientRect().width}))""")
        broken = [image["src"] for image in images
                  if not (image["complete"] and image["width"] > 0 and image["height"] > 0
                          and image["shown"] > 0)]
        if broken:
            problems.append(f"{name}: images not loaded or of zero size: {broken}")
        lab = name.removesuffix(".html")
        if lab in LABS and len(images) != figures_in_executed(site, lab):
            problems.append(f"{name}: {len(images)} images shown, the executed notebook has "
                            f"{figures_in_executed(site, lab)}")
        problems += [f"{name}: console: {error}" for error in record.console_errors]
        problems += [f"{name}: request failed: {failure}" for failure in record.failed_requests]
        problems += [f"{name}: requested outside the server: {url}"
                     for url in record.outside(server.url)]
        page.close()
    assert not problems, "\n".join(problems)


def test_search_finds_dequantization(server, browser):
    page, record = open_page(browser, server.url + "search.html?q=dequantization")
    page.wait_for_selector("#search-results ul.search li", timeout=30_000)
    hits = page.eval_on_selector_all("#search-results ul.search li a",
                                     "links => links.map(a => a.getAttribute('href'))")
    assert any(href.startswith("lab03_realnvp.html") for href in hits), hits
    assert not record.console_errors and not record.outside(server.url)
    page.close()


def test_every_internal_link_resolves(site, server, browser):
    targets = set()
    for name in pages(site):
        page, _ = open_page(browser, server.url + name)
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        page.close()
        targets |= {href for href in hrefs if href.startswith(server.url)}
    assert len(targets) > 20
    ids_of = {}
    broken = []
    for target in sorted(targets):
        address, _, fragment = target.partition("#")
        if address not in ids_of:
            try:
                with urllib.request.urlopen(address) as response:
                    body = response.read().decode(errors="replace")
            except OSError as error:
                broken.append(f"{target}: {error}")
                continue
            ids_of[address] = set(re.findall(r'\bid="([^"]+)"', body))
        if fragment and urllib.parse.unquote(fragment) not in ids_of[address]:
            broken.append(f"{target}: no element with id {fragment!r}")
    assert not broken, "\n".join(broken)


def test_pages_opened_from_disk_render_math_and_figures(site, browser):
    for name in ("index.html", "lab03_realnvp.html"):
        page, record = open_page(browser, (site / name).as_uri())
        page.wait_for_function(MATHJAX_READY, timeout=30_000)
        page.evaluate(MATHJAX_DONE)
        assert page.evaluate("() => document.querySelectorAll('.math').length") > 0, name
        assert page.evaluate(UNTYPESET) == [], name
        assert page.evaluate("() => [...document.querySelectorAll('article img')]"
                             ".every(img => img.complete && img.naturalWidth > 0)"), name
        assert not record.outside("file://"), record.outside("file://")
        assert not record.failed_requests, record.failed_requests
        page.close()
