# Two commands for a newcomer: `make demo` and `make test`. Both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

# Debian packages the kit uses: audio I/O (libsndfile1) and the offline corpora
# builders (TTS voices, bible text, recorded prompts, piano synthesis, sox).
APT_PACKAGES := libsndfile1 sox espeak-ng flite festival festvox-kallpc16k festvox-us-slt-hts \
	bible-kjv asterisk-core-sounds-en-g722 fluidsynth fluid-soundfont-gm

.PHONY: setup apt demo test bench clean

setup: apt $(STAMP)

# Idempotent: installs only what dpkg does not already have. Needs root; otherwise
# it prints the one command to run.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "apt-get install $$missing"; \
		(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	else \
		echo "Missing system packages. Run once:"; \
		echo "  sudo apt-get install -y $$missing"; \
	fi

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt "torch==2.13.0"
	$(PIP) install -q -c constraints.txt -e ".[notebooks,data,dev]"
	$(PIP) install -q --no-deps "encodec==0.1.1"
	@touch $(STAMP)

# The kit's main job: the paper's experiment at `mini` size on the offline corpora
# (builds them on first use); table, curves and logs in results/mini/.
demo: setup
	$(PY) -m wgpt_lite reproduce --preset mini

# Unit tests, then every notebook under nbval with the seconds-long `smoke` preset.
test: setup
	WGPT_OFFLINE=1 $(PY) -m pytest -q tests
	WGPT_OFFLINE=1 WGPT_PRESET=smoke $(PY) -m pytest -q -p no:cacheprovider --nbval-lax \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) .cache results .pytest_cache
