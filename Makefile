# Two commands for a newcomer: `make demo` and `make test`. Both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: setup apt demo test bench assignments clean

setup: apt $(STAMP)

# The Debian packages listed in wgpt_lite/infra/system_packages.txt (the one list; Colab's
# `python -m wgpt_lite setup` reads it too). Idempotent: installs only what dpkg lacks.
# Needs root; otherwise it prints the one command to run.
apt:
	@$(PYTHON) wgpt_lite/infra/install.py

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt "torch==2.13.0"
	$(PIP) install -q -c constraints.txt -e ".[notebooks,data,dev,teaching]"
	$(PIP) install -q --no-deps "encodec==0.1.1"
	@touch $(STAMP)

# The kit's main job: the paper's experiment at `mini` size on the offline corpora
# (builds them on first use); table, curves and logs in results/mini-<tokenizer>/. fp32 on every
# CPU, so that its numbers are those of docs/results.md (a CPU with AVX512-BF16 or AMX
# would otherwise train in bf16 and get others).
demo: setup
	WGPT_PRECISION=fp32 $(PY) -m wgpt_lite reproduce --preset mini

# Lint and format check, unit tests and every docstring example, then every notebook
# under nbval with the seconds-long `smoke` preset: once as committed (melvq), and once
# the way Colab runs them: `auto` finds EnCodec weights (a locally made stand-in at the
# torch hub path) and every cache and results folder starts empty.
NBVAL := -m pytest -q -p no:cacheprovider --nbval-lax --nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks
REHEARSAL := $(CURDIR)/.cache/rehearsal
test: setup
	$(VENV)/bin/ruff check wgpt_lite tests bench assignments
	$(VENV)/bin/ruff format --check wgpt_lite tests bench assignments
	WGPT_OFFLINE=1 $(PY) -m pytest -q tests
	WGPT_OFFLINE=1 WGPT_PRESET=smoke $(PY) $(NBVAL)
	rm -rf $(REHEARSAL)
	TORCH_HOME=$(REHEARSAL)/torch $(PY) tests/encodec_standin.py
	WGPT_OFFLINE=1 WGPT_PRESET=smoke TORCH_HOME=$(REHEARSAL)/torch WGPT_HOME=$(REHEARSAL)/home \
		WGPT_RESULTS=$(REHEARSAL)/results $(PY) $(NBVAL)
	test -f $(REHEARSAL)/results/smoke-encodec/results.md  # the notebooks really ran on EnCodec tokens

# The course assignments: student versions and autograders of every master notebook under
# assignments/ into assignments/dist/ (Otter Assign; the solutions are graded on the way).
assignments: setup
	$(PY) assignments/build.py

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) .cache results .pytest_cache
