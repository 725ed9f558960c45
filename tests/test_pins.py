"""One place pins versions (requirements.txt); conda, pip and the package all read it."""

import re
import tomllib
from importlib import metadata

import yaml

from flowlab.course import ROOT

STACK = {  # what the course is built and tested on
    "tensorflow": "2.21.",
    "tensorflow-probability": "0.25.",
    "tf-keras": "2.21.",
    "nbgrader": "0.9.6",
    "jupyterlab": "4.",
}


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.]*)", line)
            assert match, f"requirements.txt: {line!r} is not an exact `name==version` pin"
            found[match[1].lower()] = match[2]
    return found


def test_requirements_pin_the_course_stack():
    pinned = pins()
    for name, prefix in STACK.items():
        assert name in pinned, f"requirements.txt does not pin {name}"
        assert pinned[name].startswith(prefix), f"{name} is pinned to {pinned[name]}, want {prefix}*"
    for name in ("scikit-learn", "matplotlib", "pytest", "ruff"):
        assert name in pinned


def test_environment_yml_takes_its_pip_versions_from_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in conda
    # conda installs nothing but Python and pip, so it cannot resolve a different version of
    # anything pip installs.
    assert set(conda) == {"python=3.11", "pip"}
    assert "-r requirements.txt" in pip_section
    assert all(entry in ("-r requirements.txt", "-e .") for entry in pip_section), pip_section


def test_package_dependencies_are_the_requirements_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "dependencies" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]
    assert project["project"]["requires-python"] == "==3.11.*"


def test_installed_versions_are_the_pinned_ones():
    for name, version in pins().items():
        assert metadata.version(name) == version, f"{name} {metadata.version(name)} != pin {version}"
