# o365-collector — every entry point a user or CI needs. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
OUT ?= ./data
export CARGO_TERM_COLOR ?= never

.DEFAULT_GOAL := help
.PHONY: help run test lint bench soak build deploy fmt clean-data

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo ''
	@echo 'Defaults (SAM parameter / Lambda variable / o365ctl flag; defined in shared/src/bootstrap/settings.rs,'
	@echo 'functions/lister/src/settings.rs, functions/fetcher/src/config.rs and shared/src/audit/mod.rs, checked by tests/tests/e2e/defaults.rs):'
	@echo '  Prefix / PREFIX / --prefix                                  o365'
	@echo '  OverlapMinutes / OVERLAP_MINUTES / --overlap                60 (minutes)'
	@echo '  FetcherParallelDownloads / MAX_CONCURRENCY (fetcher)        4'
	@echo '  Compression / COMPRESSION / --compression                   gzip'
	@echo '  TenantsReloadSeconds / TENANTS_RELOAD_SECONDS               300 (seconds)'
	@echo '  ApiRatePerMinute / API_RATE_PER_MINUTE (o365ctl too)        1800 (requests/min/tenant)'
	@echo '  API_BURST (no SAM parameter; o365ctl too)                   rate / 60, at least 1 (requests at once)'
	@echo '  AuditSettleHours / AUDIT_SETTLE_HOURS                       48 (hours)'

run: ## collect once into ./data (OUT=dir to change): from o365-sim (embedded), or a real tenant when O365_TENANT_ID/O365_CLIENT_ID/O365_CLIENT_SECRET are set
	$(CARGO) run --quiet -p o365ctl -- run --once --out $(OUT)

test: ## install the Python tools (.venv with moto), start moto on 127.0.0.1, run every test
	scripts/venv.sh
	scripts/test.sh

lint: ## cargo fmt --check, clippy -D warnings, and the offline template checks (cfn-lint, SAM translation, checkov, parliament)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	infra/lint.sh

bench: ## criterion + end-to-end benchmarks; writes BENCHMARKS.md
	scripts/venv.sh
	scripts/bench.sh

soak: ## the long end-to-end soak under faults (not part of make test)
	scripts/venv.sh
	O365_SOAK=1 scripts/test.sh -p o365-e2e --release -- --ignored --nocapture

build: ## release build of the four Lambda functions (lister, fetcher, auditor, compactor) with cargo-lambda (arm64)
	infra/build.sh

deploy: ## sam build + sam deploy (guided the first time)
	infra/deploy.sh

fmt: ## format the code
	$(CARGO) fmt --all

clean-data: ## remove the local output directory (./data, or OUT=dir)
	rm -rf $(OUT)
