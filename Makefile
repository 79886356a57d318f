# recstream — every developer and CI entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= configs/default.yaml
PYTEST_ARGS ?=

.PHONY: help install test test-unit test-integration lint format docs demo sequencer trainer bench bench-quick bench-ingest \
        bench-trainer bench-quality bench-rebalance bench-faults \
        bench-freshness bench-burst bench-checkpoints bench-scale-out bench-online-modes \
        bench-forgetting bench-cold-start bench-sessions replay-taobao \
        broker-start broker-stop broker-status topics clean \
        prometheus-install prometheus-start prometheus-stop

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "recstream needs Python >= 3.11 (found $(PYTHON))"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# One resolver run for everything (see DESIGN.md, "Known pitfalls").
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install recstream with its dev extra (once)

test: install prometheus-install ## Install what is missing, then run every test (unit + integration, real Kafka)
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: install ## Run the tests that need no broker
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

test-integration: install prometheus-install ## Run only the tests against a real broker and real processes
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

lint: install ## ruff, ruff format --check and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

docs: install ## Regenerate the README's reference sections (CLI, configuration, metrics)
	$(PY) -m stream.reference_docs

format: install ## Format and autofix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

demo: install ## The main job: local Kafka, topics, the pipeline on real or synthetic events
	$(VENV)/bin/recstream demo --config $(CONFIG)

sequencer: install ## Run one sequencer worker (Faust) against the configured broker
	$(VENV)/bin/recstream worker sequencer --config $(CONFIG)

trainer: install ## Run the trainer worker (Faust + PyTorch) against the configured broker
	$(VENV)/bin/recstream worker trainer --config $(CONFIG)

bench: install ## Every benchmark, ~30 min: JSON + PNG + bench/results/<date>-<machine>.md, table at the end
	$(PY) -m bench.suite --config $(CONFIG)

bench-quick: install ## The same suite in a few minutes (fewer events, rates and cases)
	$(PY) -m bench.suite --quick --config $(CONFIG)

bench-ingest: install ## Sequencer ingest vs an empty Faust agent and a raw aiokafka consumer
	$(PY) -m bench.ingest --config $(CONFIG)

bench-rebalance: install ## Two sequencers, the 2nd joining mid-backlog: finished? re-reads? events lost?
	$(PY) -m bench.rebalance --config $(CONFIG) --runs $(or $(RUNS),10)

bench-faults: install ## Every fault scenario (joins, leaves, kills, poison, broker outage) 3x, with accounting
	$(PY) -m bench.faults --runs $(or $(RUNS),3)

bench-scale-out: install ## One trainer vs a trainer group of 2 (torch.distributed): NDCG, samples/s, backlog, collectives
	$(PY) -m bench.scale_out --config $(CONFIG)

bench-burst: install ## A 60 s burst above what the trainer learns, then calm: is anything dropped from learning?
	$(PY) -m bench.burst --config $(CONFIG)

bench-trainer: install ## Trainer samples/s, ranking users/s and FLOP utilisation on the CPU
	$(PY) -m bench.trainer --config $(CONFIG)

bench-quality: install ## Prequential NDCG@10 vs compute seconds, transformer vs six alternatives
	$(PY) -m bench.quality --config $(CONFIG)

bench-freshness: install ## Event -> recommendation freshness at 250-2000 events/s, both traffic profiles (bench/results/)
	$(PY) -m bench.freshness --config $(CONFIG)

bench-checkpoints: install ## Full snapshot vs delta sizes, full/adapters modes, Taobao and 1M items
	$(PY) -m bench.checkpoints --config $(CONFIG) --catalogues taobao 1000000

bench-online-modes: install ## Pretrain, then full / adapters / frozen / retrain online: NDCG@10, step time
	$(PY) -m bench.online_modes --config $(CONFIG)

bench-cold-start: install ## Cold start: NDCG@10 by item age with/without content (synthetic, Taobao); encoder cost
	$(PY) -m bench.cold_start --config $(CONFIG)

bench-sessions: install ## Session stream (ADER YOOCHOOSE periods): Recall/MRR@20 on the next period, and streaming
	$(PY) -m bench.sessions --config $(CONFIG)

bench-forgetting: install ## Taobao 96k and YOOCHOOSE in 4 periods: Recall/MRR@20 of every period after each (ADER)
	$(PY) -m bench.forgetting --config $(CONFIG)
	$(PY) -m bench.forgetting --config $(CONFIG) --data yoochoose --events 200000

replay-taobao: install ## Replay the Taobao 10k sample through all seven models (bench/results/)
	RECSTREAM_BASELINES__FROZEN_WARMUP_EVENTS=3000 RECSTREAM_BASELINES__RETRAIN_EVERY_EVENTS=2500 \
	  bench/replay_all.sh ../shared/data/taobao-userbehavior-10k/UserBehavior.csv taobao \
	  bench/results/replay-taobao-10k --batch-events 32

prometheus-install: install ## Fetch Debian's prometheus package into the user cache when missing
	$(VENV)/bin/recstream prometheus install --config $(CONFIG)

prometheus-start: install ## Start a local Prometheus scraping the workers (alert rules loaded)
	$(VENV)/bin/recstream prometheus start --config $(CONFIG)

prometheus-stop: install ## Stop the local Prometheus
	$(VENV)/bin/recstream prometheus stop --config $(CONFIG)

broker-start: install ## Start the local Kafka broker (fetches the jars once)
	$(VENV)/bin/recstream broker start --config $(CONFIG)

broker-stop: install ## Stop the local Kafka broker
	$(VENV)/bin/recstream broker stop --config $(CONFIG)

broker-status: install ## Is the local broker running?
	$(VENV)/bin/recstream broker status --config $(CONFIG)

topics: install ## Create the configured topics (idempotent)
	$(VENV)/bin/recstream topics create --config $(CONFIG)

clean: ## Remove caches and local state (keeps .venv and the jar cache)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .recstream
