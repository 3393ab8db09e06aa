# The two commands of the README, each of which sets itself up from nothing:
#
#   make book   build the course as HTML in _build/html (every notebook executed,
#               warnings are errors)
#   make test   run every test: unit tests, doctests, the notebooks (nbval) and
#               the browser check of the built book
#
# and one that CI does not run (it takes long):
#
#   make test-floors  the same tests, less the browser check, in a second
#               environment (.venv-floors) that holds the LOWER BOUNDS of
#               requirements.txt (see scripts/floors.py)
#
# Set-up: a virtual environment in .venv with torch 2.13.0 (CPU) installed first
# and everything else pinned by constraints.txt; MathJax from npm into
# _assets/mathjax (so math renders offline); for `make test`, Debian's chromium;
# for both, Debian's espeak-ng (Chapter 6's unseen voices) and a C compiler (pesq, Chapter 7c,
# builds from source).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
TORCH  ?= torch==2.13.0
# Extra pip options for torch, e.g. the CPU wheel index where PyPI would give CUDA (see the workflow).
TORCH_INDEX ?=
MATHJAX_FILES := tex-chtml.js a11y adaptors input output sre ui

# The floors environment: requirements.txt's lower bounds, torch as above.
FLOORS_VENV ?= .venv-floors
FLOORS_BIN  := $(FLOORS_VENV)/bin

.PHONY: help book test test-floors full venv venv-floors mathjax chromium espeak benchmarks clean distclean

help:
	@echo "make book        build the book into _build/html"
	@echo "make test        run every test (unit, doctest, notebooks, browser)"
	@echo "make test-floors run the tests with the oldest supported versions (long; not in CI)"
	@echo "make full        train every recipe in full mode on this machine's GPU; results/full-<device>.json"
	@echo "make benchmarks  time lessons_lib against the reference libraries"
	@echo "make clean       remove build outputs (keeps .venv)"

$(VENV)/.installed: pyproject.toml requirements.txt requirements-dev.txt constraints.txt
	bash scripts/install_compiler.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt $(TORCH_INDEX) "$(TORCH)"
	$(PIP) install --quiet -c constraints.txt -r requirements-dev.txt -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

venv: $(VENV)/.installed

# Sphinx copies _assets/ into _build/html/_static/ (see html_static_path in _config.yml).
# Not _static/: Jupyter Book would add every .js file there to every page.
_assets/mathjax/tex-chtml.js: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf _assets/mathjax && mkdir -p _assets/mathjax
	cd node_modules/mathjax/es5 && cp -r $(MATHJAX_FILES) ../../../_assets/mathjax/
	touch $@

mathjax: _assets/mathjax/tex-chtml.js

chromium:
	bash scripts/install_chromium.sh

# espeak-ng (a Debian package) synthesises Chapter 6's unseen-voice test set offline.
espeak:
	bash scripts/install_espeak.sh

book: venv mathjax espeak
	TQDM_DISABLE=1 $(BIN)/jupyter-book build . --warningiserror --keep-going

# Two pytest workers (pytest-xdist), one notebook per worker at a time (--dist loadfile keeps a
# notebook's cells together), then the browser check of the built book, which needs every notebook's
# cached outputs. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: venv mathjax chromium espeak
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not browser"
	$(BIN)/python -m pytest -m browser tests/test_book_browser.py

# Set up from nothing like $(VENV), but every course requirement at its declared
# lower bound (`>=X` in requirements.txt becomes `==X`); torch and the test tools
# keep their constraints.txt pins. The last step fails unless pip installed
# exactly the floors.
$(FLOORS_VENV)/.installed: scripts/floors.py pyproject.toml requirements.txt requirements-dev.txt constraints.txt
	test -x $(FLOORS_BIN)/python || $(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_BIN)/python -m pip install --quiet --upgrade pip
	$(FLOORS_BIN)/python scripts/floors.py > $(FLOORS_VENV)/floors.txt
	$(FLOORS_BIN)/python -m pip install --quiet -c $(FLOORS_VENV)/floors.txt $(TORCH_INDEX) "$(TORCH)"
	$(FLOORS_BIN)/python -m pip install --quiet -c $(FLOORS_VENV)/floors.txt -r requirements-dev.txt -e .
	$(FLOORS_BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(FLOORS_BIN)/python scripts/floors.py --check
	touch $@

venv-floors: $(FLOORS_VENV)/.installed

# Unit tests and doctests first (minutes), then the notebooks (long), which run
# even when a unit test failed; the target fails if either did. The browser
# check of the built book is left out: the book is built with .venv.
# LESSONS_BOOK_CACHE=off: these runs must not fill the book's execution cache.
FLOORS_PYTEST := LESSONS_BOOK_CACHE=off $(FLOORS_BIN)/python -m pytest -m "not browser" --ignore=tests/test_book_browser.py

test-floors: venv-floors espeak
	$(FLOORS_PYTEST) lessons_lib tests; unit=$$?; \
	$(FLOORS_PYTEST) notebooks && test $$unit -eq 0

benchmarks: venv
	$(BIN)/python -m benchmarks

# Full mode: the recipes of lessons_lib/recipes in their full configuration, one
# after another, on the GPU this machine has (python -m lessons_lib.train), each
# stopped after the epoch that would overrun FULL_BUDGET minutes; what each run
# measured goes into results/full-<device>.json with the hardware and versions.
#   make full RECIPES=5                      one chapter (or RECIPES="lstm_digits")
#   make full FULL_PYTHON=python3            a GPU machine's own Python (torch, numpy,
#                                            safetensors, tqdm; soundfile optional)
#   make full FULL_ARGS="--device cpu --set epochs=1" FULL_RESULTS=/tmp/proof/
#                                            prove the command on a CPU
# Several GPUs: torchrun --nproc_per_node=K -m lessons_lib.train all --mode full
FULL_PYTHON  ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
RECIPES      ?= all
FULL_BUDGET  ?= 8
FULL_RESULTS ?= results/
FULL_ARGS    ?=

full:
	PYTHONPATH=$(CURDIR) $(FULL_PYTHON) -m lessons_lib.train $(RECIPES) --mode full \
		--time-budget $(FULL_BUDGET) --results $(FULL_RESULTS) --no-progress $(FULL_ARGS)

clean:
	rm -rf _build .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) $(FLOORS_VENV) node_modules _assets/mathjax
