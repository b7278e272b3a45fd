# footfall. `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JARS := jars/lib
PY_STAMP := $(VENV)/.installed
JAR_STAMP := $(JARS)/.verified
MVN := mvn -q -B -f jars/pom.xml
export GX_ANALYTICS_ENABLED := false

.PHONY: help setup run test lint bench package lock clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: $(PY_STAMP) $(JAR_STAMP) ## install what is missing: .venv with the package and dev tools, the jars (no-op when done)

$(PY_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "footfall needs Python >= 3.11, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# The jars are resolved by Maven at setup time only, then checked against the committed lock.
$(JAR_STAMP): jars/pom.xml jars/jars.lock $(PY_STAMP)
	@command -v java >/dev/null || { echo "setup: java (JDK 17) is needed"; exit 1; }
	@command -v mvn >/dev/null || { echo "setup: mvn is needed to resolve the jars"; exit 1; }
	rm -rf $(JARS)
	$(MVN) dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/$(JARS) -DincludeScope=runtime
	$(BIN)/footfall jars --verify
	@touch $@

lock: $(PY_STAMP) ## re-resolve jars/pom.xml and rewrite jars/jars.lock (after changing the pom)
	rm -rf $(JARS)
	$(MVN) dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/$(JARS) -DincludeScope=runtime
	$(MVN) dependency:list -DoutputFile=$(CURDIR)/$(JARS)/dependency-list.txt -DincludeScope=runtime
	$(BIN)/footfall jars --write-lock-from $(JARS)/dependency-list.txt
	@touch $(JAR_STAMP)

run: setup ## run the pipeline end to end on the embedded default (conf/local.yaml) and print what it wrote
	$(BIN)/footfall run --config conf/local.yaml

test: setup ## run the test suite
	$(BIN)/python -m pytest

bench: setup ## measure: generator throughput; spatial job, footprint accuracy, Sedona vs naive join (bench/results/)
	$(BIN)/python bench/generate.py --sizes 2000x2 20000x7
	$(BIN)/python bench/spatial.py --sizes 2000x500 20000x5000

lint: setup ## ruff and mypy on lib/
	$(BIN)/ruff check lib tests jobs bench
	$(BIN)/ruff format --check lib tests jobs bench
	$(BIN)/mypy

package: setup ## build a wheel in dist/ for spark-submit --py-files
	$(BIN)/python -m pip wheel -q --no-deps -w dist .
	@ls dist/*.whl

clean: ## remove the venv, the jars and build output (not data/)
	rm -rf $(VENV) $(JARS) dist build lib/*.egg-info
