# Two promises: `make run` brings the whole console up, `make test` runs the whole suite.
# Both create .venv and install everything on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
# Debian packages: a CJK font for the simulator's captions; Chromium only for the browser tests.
RUN_PACKAGES := fonts-wqy-microhei
TEST_PACKAGES := $(RUN_PACKAGES) chromium

.PHONY: run test system-packages clean

run: $(INSTALLED) $(NODE_INSTALLED)
	@$(MAKE) --no-print-directory system-packages PACKAGES="$(RUN_PACKAGES)"
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runconsole

test: $(INSTALLED) $(NODE_INSTALLED)
	@$(MAKE) --no-print-directory system-packages PACKAGES="$(TEST_PACKAGES)"
	$(BIN)/python -m pytest -n auto --dist worksteal
	@echo "Browser tier (two processes, each with a console of its own; a test file stays in one):"
	$(BIN)/python -m pytest tests/browser -p no:asyncio -W ignore::pytest.PytestConfigWarning -n 2 --dist loadfile; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]
	@echo "Scale-out tier (PostgreSQL and Redis on 127.0.0.1; skipped with the reason when they do not answer):"
	$(BIN)/python -m pytest tests/scaleout -p no:asyncio -W ignore::pytest.PytestConfigWarning -rs
	@echo "Chaos tier (the same servers; faults and process kills; prints leaked / stuck / lost counts):"
	$(BIN)/python -m pytest tests/chaos -p no:asyncio -W ignore::pytest.PytestConfigWarning -rs

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

system-packages:
	@missing=""; for pkg in $(PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Please install these Debian packages first: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) node_modules var staticfiles
