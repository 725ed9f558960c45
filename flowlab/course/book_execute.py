"""Execute the book's staged labs side by side into its jupyter-cache, before Sphinx reads them.

MyST-NB executes the notebooks of a build one after another. With a cache of runs keyed on code,
it executes only the labs it finds no run for, so running those first with jupyter-cache's own
parallel executor (``local-parallel``: one process per core, each in the notebook's folder, as
MyST-NB would) leaves MyST-NB nothing to execute. A lab that fails here gets no cached run, and
MyST-NB then executes it again and fails the build with its traceback as before.

Run as ``python -m flowlab.course.book_execute CACHE NOTEBOOK...`` in the book's environment: the
executor forks a pool, which must not inherit a caller's threads or state.
"""

import logging
import os
import sys

from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor

CELL_TIMEOUT = 3600  # seconds, as the book's nb_execution_timeout


def execute(cache_path: str, notebooks: list[str]) -> int:
    """Run ``notebooks`` that have no cached run; return how many failed."""
    cache = get_cache(cache_path)
    uris = [os.path.abspath(path) for path in notebooks]
    for uri in uris:
        cache.add_nb_to_project(uri)
    logger = logging.getLogger("flowlab.book")
    logger.addHandler(logging.StreamHandler(sys.stdout))
    logger.setLevel(logging.WARNING)
    executor = load_executor("local-parallel", cache, logger=logger)
    result = executor.run_and_cache(filter_uris=uris, timeout=CELL_TIMEOUT)
    return len(result.excepted) + len(result.errored)


if __name__ == "__main__":
    sys.exit(1 if execute(sys.argv[1], sys.argv[2:]) else 0)
