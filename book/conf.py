"""Sphinx configuration of the flowlab self-study book.

``flowlab book`` (``make book``) copies this folder next to the staged lab notebooks and runs
``sphinx-build`` on the copy; see ``flowlab/course/book.py``. Nothing here may load from the network:
MathJax is served from ``_static/mathjax`` (staged from the ``django-static-mathjax`` wheel).
"""

import os

project = "flowlab: normalizing flows with TensorFlow Probability"
author = "the flowlab course"
copyright = "the flowlab course"

extensions = ["myst_nb", "sphinx.ext.mathjax"]
exclude_patterns = ["downloads/**", "**.ipynb_checkpoints", "_build"]
master_doc = "index"

# --- execution: every lab runs, its outputs are cached by code content (jupyter-cache) ----------
nb_execution_mode = "cache"
nb_execution_timeout = 3600  # seconds per cell; the longest full-budget training cell takes minutes
nb_execution_raise_on_error = True  # a lab that fails must fail the build, not publish a traceback
nb_execution_show_tb = True
nb_output_stderr = "warn"  # kernels run with TensorFlow's logs off; anything left is worth a warning
nb_merge_streams = True
nb_ipywidgets_js = {}  # no widgets, and the defaults are CDN scripts

# --- math: MathJax 3 from the django-static-mathjax wheel, SVG output (fonts inside the script) ---
myst_enable_extensions = ["dollarmath", "amsmath", "substitution"]
myst_substitutions = {"budget": os.environ.get("FLOWLAB_BUDGET", "full") or "full"}
myst_update_mathjax = False
mathjax_path = "mathjax/tex-svg.js"
mathjax3_config = {
    "tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]},
    # Typeset only what MyST marked as math, never a stray dollar sign in code or output.
    "options": {"ignoreHtmlClass": "tex2jax_ignore|mathjax_ignore|document",
                "processHtmlClass": "tex2jax_process|mathjax_process|math"},
}

# --- theme --------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "flowlab"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_favicon = "_static/favicon.svg"  # browsers ask for /favicon.ico otherwise, and get a 404
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
}
# Figures have white backgrounds, so the light theme; an unset mode also logs a console error.
html_context = {"default_mode": "light"}
html_last_updated_fmt = None
html_show_sourcelink = False
