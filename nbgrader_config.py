"""nbgrader settings for a JupyterLab started in this folder (`jupyter lab labs/`, as the README says).

nbgrader's Validate button reads ``nbgrader_config.py`` from the folder JupyterLab was started in.
Without this file it would use nbgrader's 30-second limit per cell, and a full-budget training cell
(about a minute in lab 02) would make correct work fail validation. The course's settings live in
one place, ``autograder/nbgrader_config.py``; this file only points there.
"""

load_subconfig("autograder/nbgrader_config.py")  # noqa: F821  (provided by traitlets)
