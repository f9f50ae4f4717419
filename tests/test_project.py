"""The project's own promises: one source of truth for dependencies, the two commands, the layout."""
from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        if extra != "all":
            reqs += items
    return reqs


def _environment_pip_requirements() -> list[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    reqs = []
    for line in lines[start + 1:]:
        match = re.match(r'^\s+- "?([^"]+)"?\s*$', line)
        if not match:
            break
        reqs.append(match.group(1))
    return [r for r in reqs if not r.startswith("-e")]


def test_environment_yml_agrees_with_pyproject():
    assert sorted(_environment_pip_requirements()) == sorted(_pyproject_requirements()), (
        "environment.yml's pip section must list exactly pyproject.toml's requirements (core + extras)")
    text = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in text and '"-e ."' in text


def test_all_extra_names_every_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"]) - {"all"}
    (all_req,) = project["optional-dependencies"]["all"]
    assert set(re.search(r"\[(.*)\]", all_req).group(1).split(",")) == extras


def test_lock_file_pins_every_requirement_and_the_cpu_torch():
    lock = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            lock[_name(name)] = version
    assert lock["torch"].startswith("2.13.0"), "torch must stay pinned to 2.13.0 (an unpinned torch pulls GBs of CUDA)"
    missing = [r for r in _pyproject_requirements() if _name(r) not in lock]
    assert not missing, f"requirements/lock.txt lacks {missing}; run `make lock`"
    assert not [n for n in lock if n.startswith("nvidia-")], "CUDA packages crept into the CPU lock file"


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec make test$", ci, re.M)
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    assert "make course" in first_block and "make test" in first_block


def test_makefile_targets_share_one_setup():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "course", "lab"):
        assert re.search(rf"^{target}: setup", makefile, re.M), f"`make {target}` must depend on setup"
    assert "-c $(LOCK)" in makefile


def test_tests_are_laid_out_like_the_packages():
    packages = sorted(p.name for p in (ROOT / "textrnn_lab").iterdir() if (p / "__init__.py").is_file())
    without_tests = [name for name in packages if not list((ROOT / "tests" / name).glob("test_*.py"))]
    assert not without_tests, f"each package has its tests in tests/<package>/: missing for {without_tests}"
    strays = sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))
    assert strays == ["test_architecture.py", "test_project.py"], f"tests of a package belong in its folder: {strays}"
    folders = sorted(p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert set(folders) <= set(packages), f"test folders without a package: {set(folders) - set(packages)}"


def test_chapter_files_pair_up():
    solutions = sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    chapters = sorted(p.name for p in (ROOT / "chapters").glob("*.ipynb"))
    assert solutions and solutions == chapters
    for name in solutions:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", name), name


def test_test_file_names_are_unique():
    """Test folders have no __init__.py, so pytest imports each file by its base name: a second
    tests/<pkg>/test_checks.py is not collected at all ('import file mismatch')."""
    root = Path(__file__).resolve().parent
    names = [p.name for p in root.rglob("test_*.py")]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
