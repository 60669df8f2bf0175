"""Packaging: the conda route (environment.yml) and the pip route (pyproject.toml) pin the same
dependencies, and the README's two commands are the ones the Makefile and CI run."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# conda-forge splits some PyPI names (an extra) into several packages.
CONDA_NAMES = {"dask[distributed]": ["dask", "distributed"]}


def _pip_pins() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"]) + list(meta["optional-dependencies"]["dev"])
    pins = {}
    for req in reqs:
        name, version = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([0-9A-Za-z.]+)", req).groups()
        for conda_name in CONDA_NAMES.get(name, [name]):
            pins[conda_name.lower()] = version
    return pins


def _conda_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            assert dep == {"pip": ["-e ."]}, "the pip section installs the package itself only"
            continue
        name, _, version = dep.partition("=")
        if name in ("python", "pip"):
            continue
        pins[name.lower()] = version
    return pins


def test_every_dependency_is_pinned_exactly():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for req in list(meta["dependencies"]) + list(meta["optional-dependencies"]["dev"]):
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9A-Za-z.]+", req), req


def test_environment_yml_matches_pyproject():
    assert _conda_pins() == _pip_pins()


def test_python_version_agrees():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert meta["requires-python"] == ">=3.11"
    assert "python=3.11" in env["dependencies"]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert ci == ["make test"]
    assert "make test" in readme and "make reproduce" in readme


def test_version_is_exposed():
    import smfq_lib

    assert re.fullmatch(r"\d+\.\d+\.\d+", smfq_lib.__version__)
