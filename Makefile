# The two commands of the README: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-$(shell sha1sum pyproject.toml | cut -c1-12)

export GJJ_SMS_BACKEND ?= file
export GJJ_SMS_OUTBOX ?= $(CURDIR)/instance/sms-outbox.jsonl
export GJJ_CHANNELS ?= fake

.PHONY: demo test install system-deps miniapp miniapp-h5 miniapp-ci miniapp-types lint clean

demo: install miniapp-h5 ## set up everything and serve the demo on http://127.0.0.1:$${GJJ_PORT:-8000}
	$(BIN)/gjj demo

test: install miniapp-ci ## set up and run the tests (SQLite + fakeredis unless GJJ_DATABASE_URL/GJJ_REDIS_URL)
	$(BIN)/python -m pytest

install: $(STAMP) system-deps

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.stamp-* && touch $@

system-deps: ## fonts for the certificate PDF, Chromium for the browser tests (Debian/Ubuntu)
	@bash scripts/system-deps.sh

miniapp: ## install the front end and build all three targets
	$(MAKE) -C miniapp install build

miniapp-h5:
	@if [ -f miniapp/package.json ]; then \
	  { [ -d miniapp/node_modules ] || $(MAKE) -C miniapp install; } && cd miniapp && npm run build:h5; \
	else echo "miniapp: no front end yet, serving the API only"; fi

miniapp-ci: ## front end: npm ci, the three builds, type check, jest + Alipay output checks
	@if [ "$${GJJ_SKIP_MINIAPP:-0}" = "1" ]; then echo "miniapp: skipped (GJJ_SKIP_MINIAPP=1)"; \
	elif command -v npm >/dev/null; then $(MAKE) -C miniapp ci; \
	else echo "miniapp: npm not found (install Node.js 20): front end not built, browser tests skip"; fi

miniapp-types: install ## the mini-program's API types from the backend's OpenAPI (commit both files)
	$(BIN)/gjj openapi miniapp/src/api/openapi.json
	cd miniapp && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run gen:api-types

lint: install
	$(BIN)/ruff check backend adapters devtools scripts tests
	$(BIN)/ruff format --check backend adapters devtools scripts tests
	$(BIN)/lint-imports
	$(BIN)/mypy backend adapters devtools

clean:
	rm -rf $(VENV) instance miniapp/node_modules miniapp/dist
