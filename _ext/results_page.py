"""A small Sphinx extension: the book's Results page is filled in at build time.

``book/results.md`` holds the prose and a placeholder line. When Sphinx reads the
page, the placeholder becomes the tables of :func:`lessons_lib.notebook.results_markdown`:
per recipe, the quick-mode numbers that the notebooks recorded in this build
(``lessons_lib.notebook.record``, in ``_build/records``) beside the full-mode numbers
committed in ``results/full-<device>.json`` by ``make full``.

Two hooks make that hold on every build: the page is read *last* (after every
notebook has been executed, or found in the execution cache), and it is re-read on
every build, even when its own source has not changed.
"""

from __future__ import annotations

from pathlib import Path

DOCNAME = "book/results"
PLACEHOLDER = "<!-- results tables: filled in by _ext/results_page.py -->"


def _read_last(app, env, docnames):
    if DOCNAME in docnames:
        docnames.remove(DOCNAME)
        docnames.append(DOCNAME)


def _always_reread(app, env, added, changed, removed):
    return [DOCNAME] if DOCNAME in env.found_docs else []


def _fill(app, docname, source):
    if docname != DOCNAME:
        return
    if PLACEHOLDER not in source[0]:
        raise ValueError(f"{DOCNAME} must contain the line {PLACEHOLDER!r}")
    from lessons_lib.notebook import results_markdown

    source[0] = source[0].replace(PLACEHOLDER, results_markdown(Path(app.srcdir) / "results"))


def setup(app):
    app.connect("env-before-read-docs", _read_last)
    app.connect("env-get-outdated", _always_reread)
    app.connect("source-read", _fill)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
