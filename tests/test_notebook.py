"""lessons_lib.notebook.show_source: what the notebooks display is the library's code."""

from __future__ import annotations

import ast
import inspect
import types

import numpy as np
import pytest

import lessons_lib
from lessons_lib import audio, data
from lessons_lib.notebook import SourceCode, show_source


def test_shows_the_function_without_its_docstring():
    src = show_source(data.official_split)
    full = inspect.getsource(data.official_split)
    assert data.official_split.__doc__.strip().splitlines()[0] in full
    assert data.official_split.__doc__.strip().splitlines()[0] not in src.code
    assert src.code.startswith("def official_split(")
    body = [line for line in full.splitlines() if "np.isin" in line or "flatnonzero" in line]
    assert body and all(line in src.code for line in body)
    assert src.filename == "lessons_lib/data.py"
    assert src.qualname == "lessons_lib.data.official_split"
    lines, first = inspect.getsourcelines(data.official_split)
    assert (src.first_line, src.last_line) == (first, first + len(lines) - 1)


def test_shown_code_is_the_running_code(fake_recordings):
    """Executing the displayed text gives the same answers as the library function."""
    namespace = dict(vars(data))
    exec(compile(show_source(data.official_split).code, "<shown>", "exec"), namespace)
    fsdd = data.load_fsdd(fake_recordings)
    for ours, shown in zip(data.official_split(fsdd), namespace["official_split"](fsdd)):
        np.testing.assert_array_equal(ours, shown)


def test_docstring_kept_on_request():
    src = show_source(audio.pcm_to_float, docstring=True)
    assert str(src) == inspect.getsource(audio.pcm_to_float)


def test_markdown_display():
    md = show_source(audio.resample)._repr_markdown_()
    assert md.splitlines()[0].startswith("`lessons_lib.audio.resample` — `lessons_lib/audio.py`, lines ")
    assert "```python\ndef resample(" in md and md.rstrip().endswith("```")


def test_fence_grows_past_backticks_in_the_code():
    src = SourceCode('x = """```"""\n', "m.x", "m.py", 1, 1)
    md = src._repr_markdown_()
    assert "````python" in md and md.rstrip().endswith("````")


def test_class_and_module():
    src = show_source(data.FSDD)
    assert src.code.startswith("@dataclass") and "class FSDD" in src.code
    assert "Attributes" not in src.code
    ast.parse(src.code)
    module = show_source(lessons_lib)
    assert module.qualname == "lessons_lib" and module.first_line == 1
    assert '"""From-scratch implementations' in module.code  # a module keeps its docstring


def test_docstring_only_function_stays_valid_python():
    namespace = {}
    exec('def f():\n    """Only a docstring."""\n', namespace)
    # give it real source by writing it to a module file
    import importlib.util, pathlib, tempfile

    path = pathlib.Path(tempfile.mkdtemp()) / "only_doc.py"
    path.write_text('def f():\n    """Only a docstring."""\n')
    spec = importlib.util.spec_from_file_location("only_doc", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = show_source(module.f).code
    assert code == "def f():\n    ...\n"
    ast.parse(code)
    assert show_source(module.f).filename == "only_doc.py"


@pytest.mark.parametrize("obj", [len, np.add, 3, "lessons_lib.data.load_fsdd", types.SimpleNamespace()])
def test_objects_without_python_source(obj):
    with pytest.raises(TypeError, match="show_source"):
        show_source(obj)


# --------------------------------------------------------------------------- markdown_table


def parse_table(markdown: str) -> list[list[str]]:
    """Cells of the first table, as a real Markdown parser (markdown-it-py, GFM tables) reads them."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("gfm-like").parse(markdown)
    rows, row = [], None
    for token in tokens:
        if token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content)
        elif token.type == "tr_close":
            rows.append(row)
            row = None
    return rows


def test_markdown_table_parses_back_to_its_cells():
    from lessons_lib.notebook import markdown_table

    rows = [["george", 2500, 500], ["a | b", 0.123456, -3], ["", 1e-9, True]]
    table = markdown_table(rows, header=["speaker", "train", "test"])
    assert table._repr_markdown_() == str(table)
    parsed = parse_table(str(table))
    assert parsed[0] == ["speaker", "train", "test"]
    assert parsed[1:] == [["george", "2500", "500"], ["a | b", "0.1235", "-3"], ["", "1e-09", "True"]]


def test_markdown_table_bad_shapes():
    from lessons_lib.notebook import markdown_table

    with pytest.raises(ValueError, match=r"row 1 has 1 cells, expected 2"):
        markdown_table([[1, 2], [3]], header=["a", "b"])
    with pytest.raises(ValueError, match="header must name at least one column"):
        markdown_table([], header=[])


def test_decorated_functions_show_their_own_source():
    from lessons_lib import fourier

    src = show_source(fourier._bit_reversed)  # wrapped in functools.lru_cache
    assert src.code.startswith("@lru_cache") and "def _bit_reversed(n: int)" in src.code
    assert src.qualname == "lessons_lib.fourier._bit_reversed"


def test_run_times_read_the_measurements(monkeypatch, tmp_path):
    import json

    from lessons_lib import notebook

    path = tmp_path / "run_times.json"
    path.write_text(json.dumps({"notebooks": {"nb": {
        "quick": {"seconds": 42.4, "machine": "2-core X", "date": "2026-12-01"},
        "full": {"seconds": 600.0, "machine": "1 GPU", "date": "2026-12-02"}},
        "other": {"quick": None, "full": None}}}))
    monkeypatch.setattr(notebook, "RUN_TIMES", path)
    assert str(notebook.run_times("nb")).splitlines()[2:] == [
        "| quick | 42 s | 2-core X | 2026-12-01 |", "| full | 10.0 min | 1 GPU | 2026-12-02 |"]
    assert "| full | not measured yet | - | - |" in str(notebook.run_times("other"))
    with pytest.raises(KeyError, match="no measured run time for 'missing'"):
        notebook.run_times("missing")


# ----------------------------------------------------------------------------- record and the Results page

def test_record_keeps_one_modes_numbers_per_notebook(tmp_path, monkeypatch):
    from lessons_lib.notebook import read_records, record

    monkeypatch.setenv("LESSONS_RECORDS", str(tmp_path))
    monkeypatch.setenv("LESSONS_MODE", "quick")
    assert record("04c_lstm_digits", "test accuracy", np.float64(0.5)) == 0.5
    record("04c_lstm_digits", "test errors", np.int64(150))
    record("05b_ctc_digits", "test DER", 0.25)
    got = read_records()
    assert got["04c_lstm_digits"]["records"] == {"test accuracy": 0.5, "test errors": 150}
    assert got["04c_lstm_digits"]["mode"] == "quick" and got["05b_ctc_digits"]["records"] == {"test DER": 0.25}
    monkeypatch.setenv("LESSONS_MODE", "full")  # a full-mode run replaces the quick numbers, never mixes
    record("04c_lstm_digits", "test accuracy", 0.9)
    assert read_records()["04c_lstm_digits"] | {"date": None} == {
        "notebook": "04c_lstm_digits", "mode": "full", "date": None, "records": {"test accuracy": 0.9}}
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(TypeError, match="value"):
        record("04c_lstm_digits", "curve", [1, 2])
    with pytest.raises(TypeError, match="strings"):
        record(4, "x", 1)


def test_results_tables_put_quick_beside_full_numbers(tmp_path):
    import json

    from lessons_lib.notebook import results_markdown

    records = {"04c_lstm_digits": {"mode": "quick", "date": "2026-12-01",
                                   "records": {"test accuracy": 0.96, "test errors": 12}},
               "05b_ctc_digits": {"mode": "full", "date": "2026-12-01", "records": {"test DER": 0.01}}}
    run = {"hardware": {"device": "NVIDIA H200", "device_kind": "cuda", "cuda": "12.8", "torch": "2.13.0",
                        "python": "3.11", "cpus": 16, "date": "2026-12-02"},
           "time_budget_minutes": 8.0,
           "recipes": {"lstm_digits": {"results": {"test accuracy": 0.99, "test errors": 3}, "epochs": 30,
                                       "train_minutes": 1.5, "samples_per_second": 4000.0}}}
    (tmp_path / "full-nvidia-h200.json").write_text(json.dumps(run))
    text = results_markdown(tmp_path, records=records)
    assert "| test accuracy | 0.96 | 0.99 |" in text and "| test errors | 12 | 3 |" in text
    assert "| epochs | — | 30 |" in text and "| samples per second | — | 4000 |" in text
    assert "| nvidia-h200 | NVIDIA H200 | 2026-12-02 | torch 2.13.0, CUDA 12.8 | 8 |" in text
    chapter5 = text[text.index("## Chapter 5"):text.index("## Where")]
    assert "0.01" not in chapter5 and "(not run yet)" in chapter5  # full-mode notebook numbers are not quick ones


def test_results_tables_split_a_notebooks_records_by_recipe(tmp_path, monkeypatch):
    from lessons_lib import recipes
    from lessons_lib.notebook import results_markdown

    monkeypatch.setitem(recipes.RECIPES, "resnet_fsdd_test", (6, "ResNet test"))
    monkeypatch.setitem(recipes.RECIPES, "alexnet_fsdd_test", (6, "AlexNet test"))
    monkeypatch.setitem(recipes.PRESETS, "resnet_fsdd_test", ("lstm_digits", {}))
    monkeypatch.setitem(recipes.PRESETS, "alexnet_fsdd_test", ("lstm_digits", {}))
    records = {"04c_lstm_digits": {"mode": "quick", "date": "2026-12-01", "records": {
        "resnet_fsdd_test: test accuracy": 0.99, "alexnet_fsdd_test: test accuracy": 0.97}}}
    text = results_markdown(tmp_path, records=records)
    resnet = text[text.index("ResNet test"):text.index("AlexNet test")]
    assert "| test accuracy | 0.99 |" in resnet and "0.97" not in resnet
    lstm = text[text.index("(recipe `lstm_digits`)"):text.index("## Chapter 5")]
    assert "(not run yet)" in lstm  # prefixed records belong to the recipes they name
    records["05b_ctc_digits"] = {"mode": "quick", "date": "2026-12-01", "records": {
        "alexnet_fsdd_test: worst speaker": 0.75, "lstm_digits: LOSO mean": 0.5, "test DER": 0.02}}
    text = results_markdown(tmp_path, records=records)
    alexnet = text[text.index("AlexNet test"):]
    assert "| worst speaker | 0.75 |" in alexnet and "| test accuracy | 0.97 |" in alexnet  # from two notebooks
    lstm = text[text.index("(recipe `lstm_digits`)"):text.index("## Chapter 5")]
    assert "| LOSO mean | 0.5 |" in lstm and "0.02" not in lstm  # only the records that name it
