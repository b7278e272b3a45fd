# footfall. `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JARS := jars/lib
PY_STAMP := $(VENV)/.installed
JAR_STAMP := $(JARS)/.verified
AF_VENV := .venv-airflow
AF_STAMP := $(AF_VENV)/.installed
AF_CONSTRAINTS := orchestration/constraints-airflow.txt
MVN := mvn -q -B -f jars/pom.xml
export GX_ANALYTICS_ENABLED := false

.PHONY: help setup airflow run demo-large test test-heavy test-notebooks test-airflow lint bench bench-accuracy bench-skew kill-test soak package test-cluster test-memory test-kill lock clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(PY_STAMP) $(JAR_STAMP) ## install what is missing: .venv with the package and dev tools, the jars (no-op when done)

$(PY_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "footfall needs Python >= 3.11, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,analyst]'
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

# Airflow gets its own venv: the Spark provider pulls pyspark-client, which would overwrite .venv's pyspark 4.0.5.
airflow: $(AF_STAMP) ## install Airflow 3.3 and the Spark provider into .venv-airflow (no-op when done; docs/operations.md)

$(AF_STAMP): $(AF_CONSTRAINTS)
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "the constraints are frozen for Python 3.11, found " + sys.version'
	@test -x $(AF_VENV)/bin/python || $(PYTHON) -m venv $(AF_VENV)
	$(AF_VENV)/bin/python -m pip install -q --upgrade pip
	$(AF_VENV)/bin/python -m pip install -q -c $(AF_CONSTRAINTS) apache-airflow==3.3.2 apache-airflow-providers-apache-spark==6.3.4
	@touch $@

run: setup ## run the pipeline end to end on the embedded default (conf/local.yaml), print what it wrote, write data/report.html
	$(BIN)/footfall run --config conf/local.yaml --demo
	@printf 'report: '
	@$(BIN)/footfall report --lakehouse data/lakehouse --out data/report.html

demo-large: setup ## the demo city with 4x the subscribers, so flows publish too (conf/demo-large.yaml; minutes, README)
	$(BIN)/footfall run --config conf/demo-large.yaml --demo
	@printf 'report: '
	@$(BIN)/footfall report --lakehouse data/demo-large/lakehouse --out data/demo-large/report.html

test: setup ## run the test suite in two processes, a file per process at a time; ends with the ten slowest tests and the count of whole-pipeline runs
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=10

bench: setup ## measure the whole pipeline against Spark's floor and DuckDB at ~1 M and ~10 M events; the posterior kernel; the generator; spatial; the accuracy matrix (bench/results/)
	$(BIN)/python bench/pipeline.py --sizes 2000x7 20000x7 --next-day 20000x8 --label $(or $(LABEL),current)
	$(BIN)/python bench/posterior.py
	$(BIN)/python bench/generate.py --sizes 2000x2 20000x7
	$(BIN)/python bench/spatial.py --sizes 2000x500 20000x5000
	$(BIN)/python bench/evaluate_matrix.py
	$(BIN)/python bench/evaluate_report.py --picture docs/accuracy_street.png

bench-accuracy: setup ## only the accuracy matrix: 3 seeds x xdr/cdr x 4 presence variants against the truth (bench/results/evaluate_matrix.md)
	$(BIN)/python bench/evaluate_matrix.py
	$(BIN)/python bench/evaluate_report.py --picture docs/accuracy_street.png

bench-skew: setup ## mobility's time on the default city with and without 10 SIM boxes (bench/results/skew.md)
	$(BIN)/python bench/skew.py

kill-test: setup ## SIGKILL 24 daily runs inside every stage and VACUUM: no partial state, every next run converges (bench/results/kill.md)
	$(BIN)/python tests/killharness.py --trials $(or $(TRIALS),24)

soak: setup ## sixty daily runs in a row on a small city, with rotation, objections, late data, a new inventory, weekly maintain (docs/soak.png, bench/results/soak.json; about two hours on 2 cores)
	$(BIN)/python bench/soak.py --days $(or $(DAYS),60)

lint: setup ## ruff and mypy on lib/
	$(BIN)/ruff check lib tests jobs bench orchestration notebooks
	$(BIN)/ruff format --check lib tests jobs bench orchestration notebooks
	$(BIN)/mypy

# What executors import: a venv with the footfall wheel (not editable) and its runtime deps (not the dev extra), at
# the versions of .venv, packed by venv-pack (from its own tools venv) for spark-submit --archives. Spark's jars are
# left out (the cluster's Spark brings its own), and so are __pycache__ folders: 150 MB instead of 630 MB.
PACK := build/package
PACK_TOOLS := $(PACK)/tools
PACK_ENV := $(PACK)/footfall-env
ENV_ARCHIVE := dist/footfall-env.tar.gz
PACKAGE_SOURCES := pyproject.toml $(shell find lib/footfall -type f -not -path '*/__pycache__/*')

package: $(ENV_ARCHIVE) ## build dist/footfall-env.tar.gz (venv-pack) for spark-submit --archives, and the wheel in dist/

$(ENV_ARCHIVE): $(PY_STAMP) $(PACKAGE_SOURCES)
	rm -rf $(PACK)/wheel $(PACK_ENV) build/lib build/bdist.* dist/footfall-*.whl
	$(BIN)/python -m pip wheel -q --no-deps -w $(PACK)/wheel .
	@test -x $(PACK_TOOLS)/bin/venv-pack || { $(BIN)/python -m venv $(PACK_TOOLS) && \
		$(PACK_TOOLS)/bin/python -m pip install -q venv-pack==0.2.0; }
	$(BIN)/python -m pip freeze -q --exclude-editable > $(PACK)/constraints.txt
	$(BIN)/python -m venv $(PACK_ENV)
	$(PACK_ENV)/bin/python -m pip install -q -c $(PACK)/constraints.txt $(PACK)/wheel/footfall-*.whl
	@mkdir -p dist
	$(PACK_TOOLS)/bin/venv-pack -q -f -p $(PACK_ENV) -o $@.tmp --format tar.gz \
		--exclude 'lib/python*/site-packages/pyspark/jars/*' --exclude '*/__pycache__/*'
	mv $@.tmp $@
	cp $(PACK)/wheel/footfall-*.whl dist/
	rm -rf $(PACK_ENV)
	@ls -l dist/

test-cluster: setup package ## start a Spark standalone master and worker on 127.0.0.1, spark-submit the pipeline there
	$(BIN)/python -m pytest tests/cluster -m cluster -s

test-memory: setup ## run the default city end to end with 1 GiB of driver and executor memory
	$(BIN)/python -m pytest tests/memory -m memory -s

test-airflow: setup airflow ## run the Airflow DAG with `airflow dags test` for one day: the gold of the batch of all days
	$(BIN)/python -m pytest tests/test_daily_runs.py -m airflow -s

test-kill: setup ## the short kill harness: an objection run killed in forget's VACUUM and between two gold writes, then converging
	$(BIN)/python -m pytest tests/test_pipeline.py -m kill

test-notebooks: setup ## execute both notebooks, each in a kernel of its own (notebook 02 runs the pipeline on a 300-subscriber city)
	$(BIN)/python -m pytest tests/test_notebooks.py -m notebooks -s

# What .ci/run adds to `make test`, in one test process: the cluster, memory, kill, Airflow, notebook and catalog
# checks share one generated city and one batch run of it (conftest's daily_landing and daily_batch), and the kill
# and catalog checks share tests/test_pipeline.py's run, instead of each target building its own.
HEAVY := cluster or memory or kill or airflow or notebooks or catalog

test-heavy: setup package airflow ## the heavy checks .ci/run runs after make test, in one process sharing one city and its runs (minutes)
	$(BIN)/python -m pytest tests -m "$(HEAVY)" -s --durations=10

clean: ## remove the venvs, the jars and build output (not data/)
	rm -rf $(VENV) $(AF_VENV) $(JARS) dist build lib/*.egg-info
