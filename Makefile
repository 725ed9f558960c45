# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   install, build the labs, autograde the example submissions, print the grades
#   make test   install, lint, and run the test suite
#   make check  install, lint, and the quick tests (no grading runs, no browser): for iteration
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install sandbox browser labs examples demo book test check lint bench clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -e .
	touch $@

install: $(STAMP) sandbox browser

# bubblewrap sandboxes student code during grading; the grader warns loudly if it is missing.
sandbox:
	@bash autograder/install-sandbox.sh

# Debian's chromium, which the browser tests drive with Playwright (its own download is unreachable).
browser:
	@bash autograder/install-browser.sh

labs: install
	$(BIN)/flowlab build

examples: install
	$(BIN)/flowlab examples

demo: labs
	$(BIN)/flowlab demo

# The self-study book: every lab executed with the full budget, rendered to build/book/index.html.
book: install
	$(BIN)/flowlab book

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest -q --durations=20

# The quick subset: unit tests only (slow ones grade notebooks or drive a browser).
check: lint
	$(BIN)/pytest -q -m "not slow and not browser"

bench: install
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf work
