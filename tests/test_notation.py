"""One notation: the symbols that book/notation.md defines for a chapter are the ones its notebooks use.

For every chapter section of the notation page ("... (chapter N)"), every symbol
in the first column of its table must occur in the math of that chapter's
notebooks (``notebooks/0N*.ipynb``), compared with spaces and braces removed
(so ``\\mathbf{F}_N`` and ``\\mathbf F_N`` count as the same). And spellings the
course retired in favour of the page's (listed below, each with the reason)
must not come back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "book" / "notation.md").read_text()

# chapter -> [(regex on a notebook's math, what the page uses instead)]
RETIRED = {
    1: [],
    2: [],
    3: [],
    4: [],
    5: [],
}


def canonical(latex: str) -> str:
    return re.sub(r"[\s{}]", "", latex)


def chapter_sections() -> dict[int, str]:
    sections = {}
    for section in re.split(r"^## ", PAGE, flags=re.M):
        match = re.search(r"\(chapter (\d+)\)", section.splitlines()[0])
        if match:
            sections[int(match.group(1))] = section
    return sections


def page_symbols(section: str) -> list[str]:
    symbols = []
    for first_column in re.findall(r"^\| (.+?) \| ", section, re.M):
        if first_column.startswith(("Symbol", ":--")):
            continue
        symbols += re.findall(r"\$(.+?)\$", first_column)
    return symbols


def notebook_math(chapter: int) -> list[str]:
    """Every $...$ and $$...$$ of the chapter's notebooks' Markdown cells."""
    math = []
    for path in sorted((ROOT / "notebooks").glob(f"{chapter:02d}*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"])
                math += [a or b for a, b in re.findall(r"\$\$(.+?)\$\$|\$(.+?)\$", text, re.S)]
    return math


CHAPTERS = sorted(c for c in chapter_sections() if any((ROOT / "notebooks").glob(f"{c:02d}*.ipynb")))


def test_the_page_has_a_section_per_written_chapter():
    assert CHAPTERS == [1, 2, 3, 4, 5]
    for chapter in CHAPTERS:
        assert len(page_symbols(chapter_sections()[chapter])) >= 10


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: f"chapter{c}")
def test_every_symbol_the_page_defines_appears_in_the_chapter(chapter):
    math = canonical(" ".join(notebook_math(chapter)))
    missing = [s for s in page_symbols(chapter_sections()[chapter]) if canonical(s) not in math]
    assert not missing, (f"book/notation.md defines these chapter-{chapter} symbols, but the chapter's notebooks "
                         f"never write them (use the page's symbol, or change the page): {missing}")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: f"chapter{c}")
def test_retired_spellings_stay_retired(chapter):
    math = notebook_math(chapter)
    for pattern, instead in RETIRED[chapter]:
        hits = [m for m in math if re.search(pattern, m)]
        assert not hits, f"chapter {chapter} writes {hits[:3]}: the notation page uses {instead}"


def test_canonical_form_ignores_spaces_and_braces_only():
    assert canonical(r"\mathbf{F}_N") == canonical(r"\mathbf F_N")
    assert canonical(r"N_{\mathrm{mel}}") == canonical(r"N_\mathrm{mel}")
    assert canonical(r"\mathbf{A}") != canonical("A")
