"""The project's own promises: one source for the repository address, clean notebooks,
consistent dependency lists, the README's two commands, a test file per module (subpackages
included), package tables that list every module, and models kept apart from training code."""

from __future__ import annotations

import ast
import json
import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
OWNER, NAME = REPO_URL.split("github.com/")[1].split("/")
SITE_URL = f"https://{OWNER}.github.io/{NAME}/"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
README = (ROOT / "README.md").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE = ROOT / "lessons_lib"
# Every public module, subpackages included: lessons_lib/<name>.py and lessons_lib/<sub>/<name>.py.
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if not p.name.startswith("_") and "__pycache__" not in p.parts)
# Every folder of the package that holds Python code: each must be a package with an __init__.py.
SUBPACKAGES = sorted({p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts} - {PACKAGE})


def requirement_lines(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines()
            if line.split("#")[0].strip() and not line.startswith("-")]


def name_of(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;@]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ must hold the chapters"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean_listed_and_colab_ready(notebook):
    nb = json.loads(notebook.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), \
        f"{notebook.name} has outputs: clear them before committing"
    toc = (ROOT / "_toc.yml").read_text()
    assert f"notebooks/{notebook.stem}" in toc, f"{notebook.name} is not in _toc.yml"
    first = "".join(code[0]["source"])
    assert 'if "google.colab" in sys.modules:' in first, "the first code cell installs only in Colab"
    assert f"git+{REPO_URL}" in first, "the Colab cell installs lessons_lib from repository.url"
    assert any("assert " in "".join(c["source"]) for c in code), "a notebook asserts its claims"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_readme_links_follow_repository_url():
    assert SITE_URL in README
    for link in re.findall(r"https://colab\.research\.google\.com/github/[^)\s]+", README):
        assert link.startswith(f"https://colab.research.google.com/github/{OWNER}/{NAME}/blob/main/notebooks/")
        assert (ROOT / link.split("/blob/main/")[1]).exists(), link
    for notebook in NOTEBOOKS:
        assert f"colab.research.google.com/github/{OWNER}/{NAME}/blob/main/notebooks/{notebook.name}" in README
    assert PYPROJECT["project"]["urls"]["Source"] == REPO_URL
    assert PYPROJECT["project"]["urls"]["Homepage"] == SITE_URL


def test_readme_commands_and_ci():
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", README, re.S))
    assert re.search(r"^make book\b", blocks, re.M) and re.search(r"^make test\b", blocks, re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run runs exactly the README's test command"
    makefile = (ROOT / "Makefile").read_text()
    assert "jupyter-book build . --warningiserror" in makefile
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert re.search(r"run: make book\b", workflow), "the Pages workflow uses the README's build command"


def test_requirements_match_pyproject():
    project = PYPROJECT["project"]
    declared = sorted(project["dependencies"] + project["optional-dependencies"]["course"])
    assert sorted(requirement_lines(ROOT / "requirements.txt")) == declared


def test_every_requirement_is_pinned_in_constraints():
    pins = dict(line.split("==") for line in requirement_lines(ROOT / "constraints.txt"))
    pins = {name_of(k): v for k, v in pins.items()}
    wanted = requirement_lines(ROOT / "requirements.txt") + requirement_lines(ROOT / "requirements-dev.txt")
    missing = [r for r in wanted if name_of(r) not in pins]
    assert not missing, f"add exact versions to constraints.txt for {missing}"
    assert pins["torch"] == "2.13.0"
    assert pins["jupyter-book"] == "1.0.4.post1"
    assert all(">=" in r or "==" in r for r in requirement_lines(ROOT / "requirements.txt"))
    assert not any(name_of(r) == "torch" and "==" in r for r in requirement_lines(ROOT / "requirements.txt")), \
        "requirements.txt must not pin torch (Colab would reinstall it)"


def package_path(path: Path) -> str:
    """``lessons_lib/models/layers.py`` -> ``models/layers``; a folder -> ``models``."""
    return path.relative_to(PACKAGE).with_suffix("").as_posix()


def mirrored_tests(module: Path) -> Path:
    """Tests mirror the package: lessons_lib/<sub>/<name>.py -> tests/<sub>/test_<name>.py."""
    return ROOT / "tests" / module.parent.relative_to(PACKAGE) / f"test_{module.stem}.py"


def listed_names(package: Path) -> set[str]:
    """The names in the first column of the module table of ``package/__init__.py``.

    The table is reStructuredText's simple table whose header starts with ``module``: a rule of ``=``, the
    header, a rule, the rows, a rule; a row starts with the name in double backquotes, a continuation line
    with spaces. Other tables of the docstring (a recipe's functions) are not read.
    """
    lines = (ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or "").splitlines()
    rules = [i for i, line in enumerate(lines) if re.fullmatch(r"=+(\s+=+)+", line.strip())]
    names = set()
    for top, middle, bottom in zip(rules[0::3], rules[1::3], rules[2::3]):
        if "".join(lines[top + 1 : middle]).split()[:1] == ["module"]:
            names |= {m.group(1) for m in (re.match(r"``(\w+)``\s", row) for row in lines[middle + 1 : bottom]) if m}
    return names


def children(package: Path) -> set[str]:
    """The public modules and the subpackages directly inside ``package``."""
    modules = {p.stem for p in package.glob("*.py") if not p.name.startswith("_")}
    return modules | {p.name for p in SUBPACKAGES if p.parent == package}


@pytest.mark.parametrize("module", MODULES, ids=package_path)
def test_every_module_has_tests_docstrings_and_a_chapter(module):
    tests = mirrored_tests(module)
    assert tests.exists(), f"{tests.relative_to(ROOT)} is missing"
    tree = ast.parse(module.read_text())
    name = package_path(module)
    assert "Chapter:" in (ast.get_docstring(tree) or ""), f"{name}: say which notebook teaches it"
    public = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]
    for node in public:
        doc = ast.get_docstring(node) or ""
        assert doc, f"{name}: {node.name} has no docstring"
        if isinstance(node, ast.FunctionDef):
            assert "Examples" in doc, f"{name}: {node.name} needs an Examples section (doctest)"


def test_the_package_table_lists_every_module_and_subpackage():
    listed, present = listed_names(PACKAGE), children(PACKAGE)
    assert not present - listed, f"add rows to the table in lessons_lib/__init__.py for {sorted(present - listed)}"
    assert not listed - present, f"lessons_lib/__init__.py lists modules that do not exist: {sorted(listed - present)}"


@pytest.mark.parametrize("package", SUBPACKAGES, ids=package_path)
def test_every_subpackage_has_a_docstring_a_chapter_and_a_table_of_its_modules(package):
    init = package / "__init__.py"
    name = package_path(package)
    assert init.exists(), f"lessons_lib/{name}/ holds Python code but no __init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text())) or ""
    assert "Chapter:" in doc, f"lessons_lib/{name}/__init__.py: say which notebooks (or chapters) use it"
    listed, present = listed_names(package), children(package)
    assert not present - listed, \
        f"add rows to the table in lessons_lib/{name}/__init__.py for {sorted(present - listed)}"
    assert not listed - present, \
        f"lessons_lib/{name}/__init__.py lists modules that do not exist: {sorted(listed - present)}"


def test_pip_install_ships_every_subpackage():
    """setuptools installs only the packages pyproject.toml names: a subpackage left out is missing after pip install."""
    shipped = PYPROJECT["tool"]["setuptools"]["packages"]
    wanted = ["lessons_lib"] + ["lessons_lib." + package_path(p).replace("/", ".") for p in SUBPACKAGES]
    assert not set(wanted) - set(shipped), f"add {sorted(set(wanted) - set(shipped))} to [tool.setuptools] packages"
    for dotted in shipped:
        assert (ROOT / dotted.replace(".", "/") / "__init__.py").exists(), f"{dotted} is shipped but does not exist"


def imported_names(path: Path, root: Path = ROOT) -> set[str]:
    """Every module a file imports, as absolute dotted names, relative imports resolved, imports inside functions too.

    ``from .. import train`` inside lessons_lib/models/ gives ``lessons_lib`` and ``lessons_lib.train``.
    """
    package = path.parent.relative_to(root).parts
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return names


def imports_of(names: set[str], target: str) -> set[str]:
    return {n for n in names if n == target or n.startswith(target + ".")}


@pytest.mark.parametrize("module", sorted((PACKAGE / "models").rglob("*.py")), ids=package_path)
def test_models_never_import_the_training_code(module):
    found = imports_of(imported_names(module), "lessons_lib.train")
    assert not found, f"{package_path(module)} imports {sorted(found)}: models hold no training code"


def test_the_training_code_never_imports_models():
    found = imports_of(imported_names(PACKAGE / "train.py"), "lessons_lib.models")
    assert not found, f"train.py imports {sorted(found)}: a recipe brings the model, fit never names one"


def test_the_import_check_resolves_relative_imports(tmp_path):
    """The two tests above can fail: every spelling of the forbidden import is found."""
    folder = tmp_path / "lessons_lib" / "models"
    folder.mkdir(parents=True)
    spellings = ["from .. import train", "from ..train import fit", "import lessons_lib.train",
                 "from lessons_lib import train", "from lessons_lib.train import fit",
                 "def f():\n    from ..train import fit"]
    for code in spellings:
        (folder / "x.py").write_text(code + "\n")
        assert imports_of(imported_names(folder / "x.py", tmp_path), "lessons_lib.train"), code
    (folder / "x.py").write_text("from . import layers\nfrom .. import spectral\nimport lessons_lib.trainer\n")
    assert not imports_of(imported_names(folder / "x.py", tmp_path), "lessons_lib.train")


def test_recordings_are_never_committed():
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert not [f for f in tracked if f.endswith((".wav", ".flac", ".tar.gz"))]


BIB_KEYS = set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text(), re.M))
TOC_PAGES = set(re.findall(r"^\s*(?:- )?(?:file|root): (\S+)", (ROOT / "_toc.yml").read_text(), re.M))


def markdown_of(notebook: Path) -> str:
    return "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                     if c["cell_type"] == "markdown")


def test_bibliography_keys_and_toc_pages_are_found():
    assert "rabiner1989tutorial" in BIB_KEYS and len(BIB_KEYS) > 50
    assert {"book/intro", "book/bibliography", "notebooks/00_getting_started"} <= TOC_PAGES


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_links_work_in_colab_and_in_the_book(notebook):
    """Colab renders plain Markdown: no MyST roles, no relative links; absolute links into the book must resolve."""
    markdown = markdown_of(notebook)
    roles = re.findall(r"\{(?:cite|doc|ref|numref|eq|term|download)(?::\w+)?\}`[^`]*`", markdown)
    assert not roles, f"{notebook.name}: MyST roles show as raw text in Colab: {roles[:3]}"
    relative = [target for target in re.findall(r"\]\(([^)\s]+)", markdown)
                if not target.startswith(("https://", "http://", "#", "mailto:"))]
    assert not relative, f"{notebook.name}: relative links break in Colab: {relative[:3]}"
    links = re.findall(re.escape(SITE_URL) + r"([^)#\s]*)(#[^)\s]*)?", markdown)
    for page, anchor in links:
        assert page.endswith(".html") and page[: -len(".html")] in TOC_PAGES, \
            f"{notebook.name}: {SITE_URL}{page} is not a page of the book"
        if page == "book/bibliography.html":
            assert anchor.startswith("#cite-") and anchor[len("#cite-"):] in BIB_KEYS, \
                f"{notebook.name}: {anchor!r} is not the anchor of a references.bib entry"


def test_every_notebook_has_measured_run_times_and_the_readme_shows_them():
    import importlib.util

    spec = importlib.util.spec_from_file_location("time_notebooks", ROOT / "scripts" / "time_notebooks.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    table = json.loads((ROOT / "lessons_lib" / "run_times.json").read_text())
    assert sorted(table["notebooks"]) == [nb.stem for nb in NOTEBOOKS], \
        "lessons_lib/run_times.json needs one entry per notebook (scripts/time_notebooks.py)"
    for name, entry in table["notebooks"].items():
        assert entry["quick"] is not None, f"{name}: quick mode was never measured (scripts/time_notebooks.py)"
        for measured in filter(None, entry.values()):
            assert measured["seconds"] > 0 and measured["machine"] and measured["date"]
    assert script.readme_table(table) in README, \
        "the README's run-time table differs from lessons_lib/run_times.json: paste `scripts/time_notebooks.py --readme`"


def test_the_floors_environment_is_requirements_txt_with_each_bound_made_exact():
    import importlib.util

    spec = importlib.util.spec_from_file_location("floors", ROOT / "scripts" / "floors.py")
    floors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floors)
    wanted = floors.floors()
    pins = {name_of(k): v for k, v in (line.split("==") for line in requirement_lines(ROOT / "constraints.txt"))}
    for requirement in requirement_lines(ROOT / "requirements.txt"):
        name = name_of(requirement)
        expected = pins[name] if name == "torch" else requirement.split(">=")[1]
        assert wanted[name] == expected, (name, wanted[name], expected)
    assert wanted["pytest"] == pins["pytest"], "the test tools keep their pins"
    assert "test-floors:" in (ROOT / "Makefile").read_text()


def test_each_worker_compiles_numba_code_into_a_cache_of_its_own(monkeypatch, tmp_path):
    """Two processes compiling one librosa function into one cache can crash or hang (conftest.py, job 5)."""
    import subprocess
    import sys

    import conftest

    import numba

    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")  # restored (or removed) afterwards
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)  # restored afterwards
    conftest._own_numba_cache("gw7")
    expected = tmp_path / "numba-cache" / "gw7"
    assert expected.is_dir() and os.environ["NUMBA_CACHE_DIR"] == str(expected) == numba.config.CACHE_DIR
    # A kernel started now inherits it, and Numba reads it there.
    seen = subprocess.run([sys.executable, "-c", "import numba; print(numba.config.CACHE_DIR)"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert seen == str(expected)


def test_this_worker_has_its_own_numba_cache():
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        assert "numba-cache" not in os.environ.get("NUMBA_CACHE_DIR", ""), "one process: the shared cache is safe"
    else:
        assert Path(os.environ["NUMBA_CACHE_DIR"]).parts[-2:] == ("numba-cache", worker)


def test_the_longest_notebooks_run_first_each_in_one_piece():
    """xdist hands out files in collection order (``--no-loadscope-reorder``): the longest first balances the workers."""
    import conftest

    class Parent:
        def __init__(self, path):
            self.fspath = path

    class IPyNbCell:
        def __init__(self, path, k):
            self.parent, self.cell, self.name = Parent(path), {}, f"{Path(path).stem}::{k}"

    class Function:
        def __init__(self, name):
            self.name = name

    nb = ROOT / "notebooks"
    items = [Function("tests/test_a.py::x"), IPyNbCell(nb / "00_getting_started.ipynb", 0),
             IPyNbCell(nb / "00_getting_started.ipynb", 1), IPyNbCell(nb / "06d_sincnet.ipynb", 0),
             IPyNbCell(nb / "99_not_measured.ipynb", 0), IPyNbCell(nb / "06d_sincnet.ipynb", 1),
             Function("tests/test_b.py::y")]
    order = [i.name for i in conftest.longest_notebooks_first(items)]
    times = json.loads((ROOT / "lessons_lib" / "run_times.json").read_text())["notebooks"]
    assert times["06d_sincnet"]["quick"]["seconds"] > 120 > times["00_getting_started"]["quick"]["seconds"]
    assert order == ["06d_sincnet::0", "06d_sincnet::1", "99_not_measured::0", "00_getting_started::0",
                     "00_getting_started::1", "tests/test_a.py::x", "tests/test_b.py::y"]


def test_make_test_keeps_the_collection_order():
    assert "--no-loadscope-reorder" in (ROOT / "Makefile").read_text()
