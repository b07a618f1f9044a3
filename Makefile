# The two commands a newcomer needs:  `make demo`  and  `make test`.
# Both create .venv and install everything (TensorFlow CPU, ppafm, a CPU OpenCL runtime) on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= cpu,sim,opencl,io,stem,test

.PHONY: install demo test lint
install: $(VENV)/.installed
$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	# PyTorch (CPU) for the TF-vs-torch backend parity test; the test skips without it.
	$(PY) -m pip install -q "torch==2.13.0" || echo "torch 2.13.0 not installable here: backend parity test will skip"
	touch $@

demo: install
	$(PY) -m keras_spm.demo --out demo_output

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check . && $(PY) -m ruff format --check .
