"""The built book, opened in headless Chromium: math rendered, audio playable, Colab link, every page.

The book is built once per session with the README's build command
(``jupyter-book build . --warningiserror --keep-going``). In ``make test`` these
tests run after the notebooks (see the root ``conftest.py``), whose nbval run
has already filled the book's execution cache, so the build executes no
notebook a second time; :func:`test_build_reused_the_nbval_execution` checks it.

The browser may reach nothing but this machine: every host other than
127.0.0.1 is mapped to an unresolvable address, so MathJax has to come from
the book itself, not a CDN.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")

pytestmark = pytest.mark.browser


def toc_files() -> list[str]:
    """Every document in _toc.yml, root first, as paths without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [str(Path(f).with_suffix("")) for f in files]


def notebooks_in_toc() -> list[Path]:
    return [ROOT / f"{f}.ipynb" for f in toc_files() if (ROOT / f"{f}.ipynb").exists()]


def _cached_notebooks() -> set[str]:
    """Notebooks whose current code already has a record in the book's execution cache."""
    cache_dir = ROOT / "_build" / ".jupyter_cache"
    if not cache_dir.exists():
        return set()
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_dir))
    cached = set()
    for path in notebooks_in_toc():
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            continue
        cached.add(path.name)
    return cached


@pytest.fixture(scope="session")
def build():
    """Build the book as the README does; return (cached before the build, build log)."""
    cached_before = _cached_notebooks()
    jb = Path(sys.executable).with_name("jupyter-book")
    command = [str(jb) if jb.exists() else "jupyter-book", "build", str(ROOT),
               "--warningiserror", "--keep-going"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the book build failed (warnings are errors):\n{log[-6000:]}"
    return cached_before, log


def _find_browser():
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                     if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    message = ("headless Chromium and chromedriver are needed for the browser check; `make test` "
               "installs Debian's chromium and chromium-driver when run as root "
               "(see scripts/install_chromium.sh)")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site(build):
    """Serve _build/html on 127.0.0.1 for the duration of the session."""
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser(site):
    chromium, driver_path = _find_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required",
                 # Nothing but this machine: a CDN could not stand in for the local MathJax.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_page(browser, site, page: str):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{site}/{page}.html")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    return browser


def wait_for_mathjax(browser) -> int:
    """Wait until MathJax has typeset the page; return how many formulas it rendered."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 60).until(lambda d: d.execute_script(
        "return !!(window.MathJax && MathJax.startup && MathJax.startup.promise)"))
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; MathJax.startup.promise.then(() => done(true));")
    return browser.execute_script("return document.querySelectorAll('mjx-container').length")


# Console errors that are not the book's: Jupyter Book 1 registers sphinx-thebe's
# inline configuration twice, so the second copy redeclares a `const` (thebe, the
# live-code button, is not used by this book); pydata-sphinx-theme logs an error
# when a fresh browser profile has no stored light/dark choice yet; and
# http.server has no favicon.
KNOWN_UPSTREAM_ERRORS = (
    "Identifier 'THEBE_JS_URL' has already been declared",
    "Got invalid theme mode",
    "favicon.ico",
)


def severe_console_errors(browser) -> list[str]:
    """SEVERE console messages since the last call, less the known upstream ones."""
    return [entry["message"] for entry in browser.get_log("browser")
            if entry["level"] == "SEVERE" and not any(k in entry["message"] for k in KNOWN_UPSTREAM_ERRORS)]


# ----------------------------------------------------------------------------- the build


def test_build_reused_the_nbval_execution(build):
    """Each notebook runs once per CI run: a notebook nbval cached is not executed by the build."""
    cached_before, log = build
    executed = re.findall(r"Executing notebook", log)
    if not cached_before:
        pytest.skip("no notebook was executed by nbval in this session (run `make test` for the full check)")
    # A notebook that nbval cached is either read from the cache ("Using cached
    # notebook") or, if Sphinx already has it from an earlier build, not read at all.
    assert len(executed) == len(notebooks_in_toc()) - len(cached_before), log[-4000:]


# ----------------------------------------------------------------------------- every page


def test_every_toc_page_exists_and_is_linked(browser, site):
    from selenium.webdriver.common.by import By

    pages = toc_files()
    missing = [p for p in pages if not (HTML / f"{p}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no HTML: {missing}"
    open_page(browser, site, pages[0])
    hrefs = {a.get_attribute("href").split("#")[0] for a in
             browser.find_elements(By.CSS_SELECTOR, "nav.bd-docs-nav a, .bd-sidebar-primary a")}
    for page in pages[1:]:
        assert f"{site}/{page}.html" in hrefs, f"{page} is missing from the navigation"
    for page in pages:
        open_page(browser, site, page)
        heading = browser.find_elements(By.CSS_SELECTOR, "article.bd-article h1")
        assert heading and heading[0].text.strip(), f"{page}.html has no title"
        assert "404" not in browser.title
        assert not severe_console_errors(browser), f"{page}: {severe_console_errors(browser)}"


# ----------------------------------------------------------------------------- the introduction


def test_intro_math_is_rendered_by_local_mathjax(browser, site):
    from selenium.webdriver.common.by import By

    page = toc_files()[0]
    severe_console_errors(browser)  # drop messages of earlier pages
    open_page(browser, site, page)
    scripts = [s.get_attribute("src") or "" for s in browser.find_elements(By.TAG_NAME, "script")]
    local = f"{site}/_static/mathjax/tex-chtml.js"
    assert any(s.split("?")[0] == local for s in scripts), f"MathJax is not loaded from {local}: {scripts}"
    rendered = wait_for_mathjax(browser)
    source = (ROOT / f"{page}.md").read_text()
    expected = len(re.findall(r"\$\$", source)) // 2
    assert expected >= 1, "the introduction should show at least one display equation"
    assert rendered >= expected
    assert browser.execute_script("return document.querySelectorAll('mjx-merror, .mjx-error').length") == 0
    # glyphs were laid out: the first formula has a real width on screen
    assert browser.execute_script(
        "return document.querySelector('mjx-container').getBoundingClientRect().width") > 10


# ----------------------------------------------------------------------------- notebook 00


def test_notebook_00_audio_math_figures_and_colab(browser, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = "notebooks/00_getting_started"
    severe_console_errors(browser)  # drop messages of earlier pages
    open_page(browser, site, page)
    assert wait_for_mathjax(browser) >= 2

    audio = browser.find_elements(By.TAG_NAME, "audio")
    assert len(audio) >= 7, "one player for the plotted recording and one per speaker"
    source = audio[0].find_element(By.TAG_NAME, "source").get_attribute("src")
    assert source.startswith("data:audio/wav;base64,")
    # the browser decodes the WAV: 'seven' by theo lasts a fraction of a second up to ~2 s
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return arguments[0].readyState >= 1", audio[0]))
    duration = browser.execute_script("return arguments[0].duration", audio[0])
    assert 0.1 < duration < 3.0

    tables = browser.find_elements(By.CSS_SELECTOR, "div.cell_output table")
    assert len(tables) >= 2, "the counts table and the fold table are rendered as tables"
    outputs = " ".join(o.text for o in browser.find_elements(By.CSS_SELECTOR, "div.cell_output"))
    assert "|---|" not in outputs, "a Markdown table was shown as raw text"

    images = browser.find_elements(By.CSS_SELECTOR, "div.cell_output img")
    assert len(images) >= 2, "the duration box plot and the waveform"
    assert all(browser.execute_script("return arguments[0].naturalWidth", im) > 100 for im in images)

    colab = f"https://colab.research.google.com/github/{REPO_URL.split('github.com/')[1]}/blob/" \
            f"{CONFIG['repository'].get('branch', 'main')}/{page}.ipynb"
    links = [a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")]
    assert colab in links, f"no Colab launch link {colab}"
    assert not severe_console_errors(browser)


# ----------------------------------------------------------------------------- links from the notebooks


def test_every_bibliography_entry_has_the_anchor_notebooks_link_to(build):
    """Notebooks cite with absolute links to book/bibliography.html#cite-<key> (they must work in Colab)."""
    keys = re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text(), re.M)
    page = (HTML / "book" / "bibliography.html").read_text()
    ids = set(re.findall(r'id="(cite-[^"]+)"', page))
    missing = [k for k in keys if f"cite-{k.lower()}" not in ids]
    assert keys and not missing, f"bibliography entries without a #cite-<key> anchor: {missing[:5]}"


def test_the_install_cell_is_not_on_the_page(build):
    """The Colab install cell is tagged remove-cell: it runs in Colab, the HTML does not show it."""
    for page in notebooks_in_toc():
        html = (HTML / "notebooks" / f"{page.stem}.html").read_text()
        assert 'if "google.colab" in sys.modules' not in html.replace("&quot;", '"'), page.name


def test_results_page_shows_this_builds_quick_numbers_for_every_recipe(build):
    """The Results page (filled in by _ext/results_page.py, read after every notebook) has each recipe's
    quick-mode headline numbers, as the notebooks recorded them in this build."""
    import json

    from lessons_lib.notebook import _number as shown_as, read_records, recipe_numbers
    from lessons_lib.recipes import RECIPES, get

    html = (HTML / "book" / "results.html").read_text()
    text = re.sub(r"<[^>]+>", " ", html)
    flat = re.sub(r"\s+", " ", text)
    records = read_records()
    in_book = set(toc_files())
    for name in RECIPES:
        notebook = get(name).NOTEBOOK
        assert f"(recipe {name} )" in flat, name
        if f"notebooks/{notebook}" not in in_book:
            continue  # a recipe whose notebook is still to come
        assert notebook in records and records[notebook]["mode"] == "quick", f"{notebook} recorded nothing"
        numbers = recipe_numbers(name, records)
        assert numbers, f"no notebook recorded numbers for {name}"
        block = flat[flat.index(f"(recipe {name} )"):]
        for key, value in numbers.items():
            shown = shown_as(value)  # the page's own format: 4 significant digits, or 12,345 from 10,000 up
            assert re.search(rf"{re.escape(key)} {re.escape(shown)}", block), (name, key, shown)
    for path in sorted((ROOT / "results").glob("full-*.json")):
        assert json.loads(path.read_text())["hardware"]["device"] in text, path.name
