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

# chapter -> [(regex on a notebook's math, what the page uses instead, an old spelling the regex catches)]
# Each pattern matched the chapter's notebooks before the notation was unified (issue 12).
RETIRED = {
    1: [
        (r"6\.02\s*\\?,?\s*b\b|2\^\{?b\b|2\^\{b-1\}|2\^\{1-b\}", r"Q for the bit depth", r"6.02\,b"),
        (r"(?<![\w_])x\(t\)", r"x_c(t) for the continuous-time signal", r"x(t)"),
        (r"(?<![\w\\])W_\{?kn\}?|W\^\{?\\mathsf|\\mathbf X = W", r"\mathbf{F}_N for the DFT matrix, W_N for the twiddle", r"W_{kn}"),
        (r"\bmH\b|H\s*=\s*N\b|H\s*\\le", r"R for the hop", r"mH"),
        (r"H\[i, ?k\]|S_\\text\{mel\}\s*=\s*H", r"H_b[k] and \mathbf{S}_{\mathrm{mel}} = \mathbf{H}\mathbf{S}", r"H[i, k]"),
        (r"\bc\[q\]|\bs_q\b|\\ell\[i\]", r"C[c, m] with s_c", r"c[q]"),
        (r"\\Delta\^?2?\s*c_t", r"\Delta\mathbf{c}_m", r"\Delta c_t"),
        (r"\\alpha\s*=\s*0\.97|y'\[n\]", r"\alpha_{\mathrm{pre}}", r"y'[n]"),
        (r"a_\\text\{min\}", r"\epsilon", r"a_\text{min}"),
        (r"(?<![\w\\])m = 2595|m = 3f/200", r"\operatorname{mel}(f)", r"m = 2595"),
    ],
    2: [
        (r"\\gamma\(z_", r"\gamma_{nk}", r"\gamma(z_"),
        (r"z_k\s*=\s*1", r"P(z_n = k)", r"z_k = 1"),
        (r"\\text\{old\}", r"\mathrm{old}", r"\text{old}"),
        (r"\\epsilon(?!_)", r"\epsilon_{\mathrm{reg}}", r"\epsilon"),
    ],
    3: [
        (r"c_\{?j[mk]\b", r"w_{jk}", r"c_{jm"),
        (r"_\{?jm", r"_{jk}", r"_{jm"),
        (r"\\gamma_t\(j,\s*m\)", r"\gamma_t(j, k)", r"\gamma_t(j, m)"),
        (r"(P\(|\\mid\s*)O\b", r"\mathbf{O}", r"P(O"),
        (r"Q\^\*", r"\mathbf{q}^*", r"Q^*"),
        (r"\\lambda\s*=\s*\(\\pi", r"\lambda = (\boldsymbol{\pi}, \mathbf{A}, \mathbf{B})", r"\lambda = (\pi"),
        (r"\\tilde\s*\{?\\alpha", r"\alpha'_t", r"\tilde\alpha"),
        (r"\\sum_\{?m=1\}?\^\{?M\}?", r"\sum_{k=1}^{K}", r"\sum_{m=1}^{M}"),
    ],
    4: [
        (r"\\delta_\{[a-z]{2}\}", r"[i = c]", r"\delta_{ic}"),
        (r"\\eta\s*\\mathbf\s*\{?H\}?", r"\eta \nabla^2 \mathcal{L}", r"\eta \mathbf H"),
        (r"\\mathbf\s*\{?b\}?_\{?(?:ih|hh)\b", r"\mathbf{b}_h", r"\mathbf b_{ih"),
        (r"\\mathbf\s*\{?W\}?_\{?\\mathrm\s*\{?out", r"\mathbf{W}_{hy}, \mathbf{b}_y", r"\mathbf W_{\mathrm{out"),
    ],
    5: [
        (r"\\mathcal\s*\{?L\}?_\{?\\text\{CTC\}", r"\mathcal{L}_{\mathrm{CTC}}", r"\mathcal L_{\text{CTC}"),
        (r"N_\{?\\text\{beam\}", r"N_{\mathrm{beam}}", r"N_{\text{beam}"),
    ],
    6: [
        (r"L_\{?\\(?:mathrm|text)\s*\{?in\b", r"L for the input length (and L_{\mathrm{out}})", r"L_{\mathrm{in}}"),
        (r"k_\{?h\}?\s*\\times\s*k_\{?w\b", r"K_H \times K_W for a 2-D kernel of K taps per axis", r"k_h \times k_w"),
    ],
    7: [
        (r"\\tanh\s*\(\s*a\s*\)", r"\tanh(\mathbf{W}_f * \mathbf{x}) for the gated activation's filter half",
         r"\tanh(a)"),
    ],
}


def canonical(latex: str) -> str:
    return re.sub(r"[\s{}]", "", latex)


def chapter_sections() -> dict[int, str]:
    sections = {}
    for section in re.split(r"^## ", PAGE, flags=re.M):
        match = re.search(r"\(chapter (\d+)\)", section.splitlines()[0])
        if match:  # a chapter may have several sections: all are checked
            sections[int(match.group(1))] = sections.get(int(match.group(1)), "") + section
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
    assert CHAPTERS == [1, 2, 3, 4, 5, 6, 7]
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
    for pattern, instead, _ in RETIRED[chapter]:
        hits = [m for m in math if re.search(pattern, m)]
        assert not hits, f"chapter {chapter} writes {hits[:3]}: the notation page uses {instead}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: f"chapter{c}")
def test_each_retired_pattern_catches_its_old_spelling(chapter):
    assert RETIRED[chapter], "every written chapter retired at least one spelling"
    for pattern, _, old in RETIRED[chapter]:
        assert re.search(pattern, old), (pattern, old)


def test_a_chapter_with_two_sections_is_checked_against_both():
    sections = chapter_sections()
    for heading in re.findall(r"^## (.+\(chapter (\d+)\))$", PAGE, re.M):
        assert heading[0] in sections[int(heading[1])], heading[0]


def test_canonical_form_ignores_spaces_and_braces_only():
    assert canonical(r"\mathbf{F}_N") == canonical(r"\mathbf F_N")
    assert canonical(r"N_{\mathrm{mel}}") == canonical(r"N_\mathrm{mel}")
    assert canonical(r"\mathbf{A}") != canonical("A")
