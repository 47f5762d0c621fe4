# The README's commands. Every target creates .venv itself on first use.
#
# TORCH_SPEC pins the PyTorch build that this project is tested with; a user
# who wants the newest releases runs e.g. `make test TORCH_SPEC="torch torchvision"`.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
BIN := $(VENV)/bin

.PHONY: venv demo test test-gpu lint docs screenshots results bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: venv
	$(BIN)/python -m studies.compare --preset demo --out runs/demo

# The suite includes the doctests of dbn/ (pytest --doctest-modules), a check that the
# results tables match their data, and the documentation build with its gallery.
test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q --durations=10

# The documentation site, warnings as errors, the gallery executed: docs/_build/html.
docs: venv
	rm -rf docs/_build docs/gallery docs/api/generated
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

# The site as a newcomer sees it (after `make docs`; needs Chromium): the home page, an
# API page, a gallery page and a results page, 1400 px wide, in docs/_static/screenshots.
SCREENSHOTS := index api/generated/dbn.RBM gallery/plot_rbm_filters results/labels
screenshots:
	mkdir -p docs/_static/screenshots
	for page in $(SCREENSHOTS); do \
		chromium --headless --no-sandbox --hide-scrollbars --window-size=1400,1100 \
			--screenshot=docs/_static/screenshots/$$(echo $$page | tr / -).png \
			file://$(CURDIR)/docs/_build/html/$$page.html; \
	done

# Every results table and the README's headline, regenerated from results/.
results: venv
	$(BIN)/python -m studies.results

# On a machine with a CUDA GPU: every test marked `gpu` (skipped elsewhere).
test-gpu: venv
	$(BIN)/python -m pytest -q -m gpu

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: venv
	$(BIN)/python -m studies.bench --autocast bfloat16 --full --out runs/bench

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache docs/_build docs/gallery docs/api/generated
