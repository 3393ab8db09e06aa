"""Showing the library's own code, and small result tables, inside a notebook.

The course keeps one source of truth: a notebook never pastes a copy of an
algorithm, it renders the function that the tests check, straight from
``lessons_lib``. :func:`show_source` returns an object that Jupyter, Colab and
the Jupyter Book build all display as a highlighted code block headed by the
file and line numbers it came from.

Chapter: every notebook (first used in ``notebooks/00_getting_started.ipynb``).
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SourceCode", "show_source", "MarkdownTable", "markdown_table", "RUN_TIMES", "run_times", "records_dir",
           "record", "read_records", "results_markdown"]


@dataclass(frozen=True)
class SourceCode:
    """Source text of a Python object, displayed as a highlighted block.

    Attributes
    ----------
    code : str
        The source, dedented.
    qualname : str
        ``module.name`` of the object.
    filename : str
        The file, relative to the package's parent folder when it is inside
        ``lessons_lib`` (e.g. ``lessons_lib/data.py``).
    first_line, last_line : int
        The lines of ``filename`` the source spans (1-based, inclusive).
    """

    code: str
    qualname: str
    filename: str
    first_line: int
    last_line: int

    def __str__(self) -> str:
        return self.code

    def _repr_markdown_(self) -> str:
        fence = "```"
        while fence in self.code:
            fence += "`"
        header = f"`{self.qualname}` — `{self.filename}`, lines {self.first_line}–{self.last_line}"
        return f"{header}\n\n{fence}python\n{self.code.rstrip()}\n{fence}\n"


def _strip_docstring(code: str) -> str:
    tree = ast.parse(code)
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return code
    body = node.body
    if not (body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
            and isinstance(body[0].value.value, str)):
        return code
    lines = code.splitlines(keepends=True)
    doc = body[0]
    start, end = doc.lineno - 1, doc.end_lineno  # 0-based start, exclusive end
    if len(body) == 1:  # only a docstring: leave a placeholder so the code stays valid
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        return "".join(lines[:start] + [indent + "...\n"] + lines[end:])
    return "".join(lines[:start] + lines[end:])


def show_source(obj, *, docstring: bool = False) -> SourceCode:
    """Render the source code of a library function, class or module.

    Parameters
    ----------
    obj : function, class or module
        What to show, e.g. ``lessons_lib.data.official_split``.
    docstring : bool, default False
        Keep the docstring. By default it is left out, because the notebook's
        prose already explains what the docstring says.

    Returns
    -------
    SourceCode
        Displayed by Jupyter as Markdown (a ``python`` code block with a header
        naming the file and lines); ``str()`` gives the plain code.

    Raises
    ------
    TypeError
        If ``obj`` has no Python source (a built-in, a C extension, a value).

    Examples
    --------
    >>> from lessons_lib.data import official_split
    >>> src = show_source(official_split)
    >>> print(str(src).splitlines()[0])
    def official_split(fsdd: FSDD) -> tuple[np.ndarray, np.ndarray]:
    >>> src.filename
    'lessons_lib/data.py'
    """
    obj = inspect.unwrap(obj)  # show the function itself, not a decorator's wrapper (e.g. lru_cache)
    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismodule(obj) or inspect.ismethod(obj)):
        raise TypeError(
            f"show_source expects a Python function, class or module, got {type(obj).__name__} {obj!r}"
        )
    try:
        lines, first = inspect.getsourcelines(obj)
        path = Path(inspect.getsourcefile(obj) or "")
    except (OSError, TypeError) as err:
        raise TypeError(f"show_source cannot find Python source for {obj!r}: {err}") from err
    first = max(first, 1)  # modules report line 0
    code = textwrap.dedent("".join(lines))
    if not docstring and not inspect.ismodule(obj):
        code = _strip_docstring(code)
    package_root = Path(__file__).resolve().parent.parent
    try:
        filename = path.resolve().relative_to(package_root).as_posix()
    except ValueError:
        filename = path.name
    module = getattr(obj, "__module__", None) or getattr(obj, "__name__", "")
    name = getattr(obj, "__qualname__", None)
    qualname = f"{module}.{name}" if name and not inspect.ismodule(obj) else module
    return SourceCode(code, qualname, filename, first, first + len(lines) - 1)


@dataclass(frozen=True)
class MarkdownTable:
    """A table that Jupyter, Colab and the book display as a formatted table.

    Attributes
    ----------
    markdown : str
        The table in Markdown (GitHub/MyST pipe-table syntax).
    """

    markdown: str

    def __str__(self) -> str:
        return self.markdown

    def _repr_markdown_(self) -> str:
        return self.markdown


def _cell(value) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows, header) -> MarkdownTable:
    """Format rows of values as a Markdown table for display in a notebook.

    Parameters
    ----------
    rows : iterable of sequences
        One sequence of cell values per row. Floats are shown with 4
        significant digits; anything else with ``str``. A ``|`` in a value is
        escaped.
    header : sequence of str
        Column titles; every row must have this many cells.

    Returns
    -------
    MarkdownTable
        Displayed as a table; ``str()`` gives the Markdown.

    Raises
    ------
    ValueError
        If ``header`` is empty or a row has a different number of cells.

    Examples
    --------
    >>> print(markdown_table([["theo", 500], ["lucas", 0.5]], header=["speaker", "n"]))
    | speaker | n |
    |---|---|
    | theo | 500 |
    | lucas | 0.5 |
    """
    header = [str(h) for h in header]
    if not header:
        raise ValueError("header must name at least one column")
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells, expected {len(header)} (one per header column)")
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return MarkdownTable("\n".join(lines) + "\n")


#: Measured wall-clock times of the notebooks (``scripts/time_notebooks.py`` writes
#: the file; the README's table is checked against it).
RUN_TIMES = Path(__file__).resolve().parent / "run_times.json"


def _minutes(seconds) -> str:
    if seconds is None:
        return "not measured yet"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def run_times(notebook: str) -> MarkdownTable:
    """How long a notebook takes in each mode, as measured (not estimated).

    Parameters
    ----------
    notebook : str
        The notebook's name without ``.ipynb``, e.g. ``"03b_gmm_hmm_digits"``.

    Returns
    -------
    MarkdownTable
        One row per mode: the wall-clock time of a whole run (every cell,
        under nbval, as CI runs it), the machine and the date of the
        measurement, read from :data:`RUN_TIMES`.

    Raises
    ------
    KeyError
        If the notebook has no entry in :data:`RUN_TIMES`.

    Examples
    --------
    >>> str(run_times("00_getting_started")).startswith("| mode |")
    True
    """
    table = json.loads(RUN_TIMES.read_text())
    if notebook not in table["notebooks"]:
        raise KeyError(f"no measured run time for {notebook!r}; known: {sorted(table['notebooks'])}")
    entry = table["notebooks"][notebook]
    rows = []
    for mode in ("quick", "full"):
        measured = entry.get(mode) or {}
        rows.append([mode, _minutes(measured.get("seconds")), measured.get("machine", "-"),
                     measured.get("date", "-")])
    return markdown_table(rows, header=["mode", "whole notebook", "machine", "measured"])


def records_dir() -> Path:
    """Where :func:`record` writes: ``LESSONS_RECORDS`` if set, else ``_build/records`` of the checkout.

    Outside a checkout of the course (e.g. ``pip install`` in Colab) the default is
    ``~/.cache/lessons_lib/records`` (or under ``XDG_CACHE_HOME``).

    Examples
    --------
    >>> records_dir().name
    'records'
    """
    if os.environ.get("LESSONS_RECORDS"):
        return Path(os.environ["LESSONS_RECORDS"])
    root = Path(__file__).resolve().parent.parent
    if (root / "_toc.yml").is_file():
        return root / "_build" / "records"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lessons_lib" / "records"


def record(notebook: str, name: str, value):
    """Note a headline number of a notebook run, for the book's Results page; returns ``value``.

    The numbers of one notebook are kept in ``records_dir() / f"{notebook}.json"``
    with the mode they were computed in (:func:`lessons_lib.config.mode`) and the
    date. The Results page of the book shows the quick-mode numbers of its build
    beside the committed full-mode numbers of ``make full``.

    Parameters
    ----------
    notebook : str
        The notebook's name without ``.ipynb``, e.g. ``"04c_lstm_digits"``.
    name : str
        What the number is, e.g. ``"test accuracy"``.
    value : int, float, str or bool
        A JSON scalar (NumPy scalars are converted).

    Raises
    ------
    TypeError
        If ``value`` is not a scalar, or ``notebook`` or ``name`` is not a string.

    Examples
    --------
    >>> import tempfile
    >>> os.environ["LESSONS_RECORDS"] = tempfile.mkdtemp()
    >>> record("00_getting_started", "answer", 42)
    42
    >>> read_records()["00_getting_started"]["records"]
    {'answer': 42}
    >>> del os.environ["LESSONS_RECORDS"]
    """
    if not isinstance(notebook, str) or not isinstance(name, str):
        raise TypeError("notebook and name must be strings")
    stored = value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value
    if not isinstance(stored, (int, float, str, bool)):
        raise TypeError(f"value must be a number, string or bool, got {type(value).__name__}")
    from .config import mode

    folder = records_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.json"
    entry = json.loads(path.read_text()) if path.is_file() else {}
    if entry.get("mode") != mode():
        entry = {}  # numbers of one mode only
    entry.update(notebook=notebook, mode=mode(), date=_today())
    entry.setdefault("records", {})[name] = stored
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(entry, indent=1) + "\n")
    os.replace(temporary, path)
    return value


def _today() -> str:
    import datetime

    return datetime.date.today().isoformat()


def read_records(folder=None) -> dict:
    """Every notebook's recorded numbers: ``{notebook: {"mode", "date", "records"}}``.

    Examples
    --------
    >>> import tempfile
    >>> read_records(tempfile.mkdtemp())
    {}
    """
    folder = records_dir() if folder is None else Path(folder)
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def _numbers_of(recipe: str, numbers: dict) -> dict:
    """A notebook's records for one recipe: names ``"<recipe>: <number>"`` when the notebook trains
    several recipes (they are shown without the prefix), else all of them."""
    prefix = f"{recipe}: "
    mine = {k[len(prefix):]: v for k, v in numbers.items() if k.startswith(prefix)}
    if mine or any(": " in k for k in numbers):
        return mine
    return numbers


def recipe_numbers(recipe: str, records: dict) -> dict:
    """The quick-mode numbers this build recorded for one recipe, from every notebook.

    The recipe's own notebook (its module's ``NOTEBOOK``) gives its records as
    :func:`_numbers_of` selects them; any other notebook contributes the records it
    names ``"<recipe>: <number>"`` (a notebook that trains another chapter's recipe,
    e.g. leave-one-speaker-out in 6c). Full-mode records are left out.

    Examples
    --------
    >>> records = {"06b_cnn_classifiers": {"mode": "quick", "records": {"resnet_fsdd: test accuracy": 0.97}},
    ...            "06c_cnn_evaluation": {"mode": "quick", "records": {"resnet_fsdd: LOSO mean": 0.8, "x": 1}}}
    >>> recipe_numbers("resnet_fsdd", records)
    {'test accuracy': 0.97, 'LOSO mean': 0.8}
    """
    from .recipes import get

    own = get(recipe).NOTEBOOK
    quick = {name: r.get("records", {}) for name, r in records.items() if r.get("mode") == "quick"}
    numbers = _numbers_of(recipe, quick.get(own, {}))
    prefix = f"{recipe}: "
    for name, found in quick.items():
        if name != own:
            numbers |= {k[len(prefix):]: v for k, v in found.items() if k.startswith(prefix)}
    return numbers


def results_markdown(results_folder, records=None) -> str:
    """The Results page's tables: per recipe, its quick-mode numbers beside the committed full-mode ones.

    A notebook that trains several recipes records each one's numbers as
    ``record(notebook, "<recipe>: <number>", value)``; the table of a recipe shows
    only its own, from every notebook (:func:`recipe_numbers`).

    Parameters
    ----------
    results_folder : path
        Holds ``full-<device>.json`` files written by ``make full``.
    records : dict, optional
        As :func:`read_records` returns (default: read them).

    Returns
    -------
    str
        Markdown: one table per chapter with a recipe, and the hardware of every
        full-mode file.

    Examples
    --------
    >>> import tempfile
    >>> "not run yet" in results_markdown(tempfile.mkdtemp(), records={})
    True
    """
    from .recipes import RECIPES, get

    records = read_records() if records is None else records
    runs = {p.stem: json.loads(p.read_text()) for p in sorted(Path(results_folder).glob("full-*.json"))}
    lines = []
    for chapter in sorted({c for c, _ in RECIPES.values()}):
        lines += [f"## Chapter {chapter}", ""]
        for name, (c, title) in RECIPES.items():
            if c != chapter:
                continue
            quick_numbers = recipe_numbers(name, records)
            lines += [f"**{title}** (recipe `{name}`)", ""]
            header = ["number", "quick mode, this build"] + [f"full mode, {run_name.removeprefix('full-')}"
                                                           for run_name in runs]
            keys = list(quick_numbers)
            for run in runs.values():
                keys += [k for k in run.get("recipes", {}).get(name, {}).get("results", {}) if k not in keys]
            rows = []
            for key in keys:
                row = [key, _number(quick_numbers[key]) if key in quick_numbers else "—"]
                for run in runs.values():
                    found = run.get("recipes", {}).get(name, {}).get("results", {})
                    row.append(_number(found[key]) if key in found else "—")
                rows.append(row)
            for label, field in (("epochs", "epochs"), ("training minutes", "train_minutes"),
                                 ("samples per second", "samples_per_second")):
                values = [run.get("recipes", {}).get(name, {}).get(field) for run in runs.values()]
                if any(v is not None for v in values):
                    rows.append([label, "—"] + [_number(v) if v is not None else "—" for v in values])
            if not rows:
                rows = [["(not run yet)", "—"] + ["—"] * len(runs)]
            lines += [str(markdown_table(rows, header=header)), ""]
    lines += ["## Where the full-mode numbers were measured", ""]
    if runs:
        lines.append(str(markdown_table(
            [[run_name.removeprefix("full-"), run["hardware"]["device"], run["hardware"]["date"],
              f"torch {run['hardware']['torch']}" + (f", CUDA {run['hardware']['cuda']}"
                                                      if run["hardware"].get("cuda") else ""),
              _number(run.get("time_budget_minutes")) if run.get("time_budget_minutes") else "—"]
             for run_name, run in runs.items()],
            header=["file", "device", "date", "versions", "time budget per recipe (min)"])))
    else:
        lines.append("No full-mode run has been committed yet: full mode has not run yet on a GPU for this "
                     "book. `make full` on a GPU writes `results/full-<device>.json`.")
    return "\n".join(lines) + "\n"
