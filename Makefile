# Keyport. `make dev` runs everything locally; `make test` is what CI runs.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
GO      ?= go
FUZZTIME ?= 5s
# make dev's ports: the portal, the CXone simulator, the local PostgreSQL.
PORT     ?= 8080
SIM_PORT ?= 8081
PG_PORT  ?= 55432

.PHONY: help deps build dev test compose-test generate generate-check lint unit fuzz bench bench-queries bench-trail clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

deps: ## install PostgreSQL server binaries and Chromium when missing (apt-get as root)
	@scripts/deps.sh

build: ## build bin/keyport
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/keyport ./cmd/keyport

dev: deps build ## run Postgres, the CXone simulator and the portal locally (Ctrl-C stops all); PORT, SIM_PORT, PG_PORT move them
	bin/keyport dev --addr 127.0.0.1:$(PORT) --sim-addr 127.0.0.1:$(SIM_PORT) --pg-port $(PG_PORT)

generate: ## regenerate templ code
	$(GO) tool templ generate

generate-check: ## fail if generated code is stale
	$(GO) tool templ generate
	@if [ -n "$$(git status --porcelain -- '*_templ.go')" ]; then \
		echo "templ generate changed these files; run 'make generate' and commit them:"; \
		git status --porcelain -- '*_templ.go'; exit 1; fi

lint: ## gofmt, templ fmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) tool templ fmt -fail .
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

unit: ## the whole suite with the race detector
	$(GO) test -race -count=1 -timeout 15m ./...

fuzz: ## run each fuzz target for FUZZTIME
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

test: deps generate-check lint fuzz unit ## everything CI checks without Docker

# Installs and starts Docker as root when no engine answers; builds Compose from the Go module proxy
# and stand-ins for the registry images (deploy/standins). CI runs it after make test.
compose-test: ## run docker-compose.yml for real: health, demo, reviewer, stop, Postgres restart, down + up
	scripts/compose-test.sh

# make bench: the table of issue 14. Every BenchmarkTable… reports its figure, the anchor it is held
# against (measured in the same run), the ratio and the goal; scripts/benchtable prints them as one
# Markdown table (the raw output goes to stderr). go test runs the packages' benchmarks one after
# another. Other benchmarks run by name: go test -run '^$' -bench Export1MRSS -benchtime 1x ./handlers
bench: deps ## one table: each figure, its anchor from the same run, ratio, goal (issue 14; < 10 min)
	$(GO) test -run '^$$' -bench '^BenchmarkTable' -benchtime 1x -timeout 20m ./handlers ./internal/audit ./internal/auditsink ./cmd/keyport 2>&1 | $(GO) run ./scripts/benchtable

bench-queries: deps ## the 10 M-event audit query benchmark (opt-in: seeds for several minutes)
	KEYPORT_BENCH_10M=1 $(GO) test -run '^$$' -bench FilteredQueries10M -benchtime 1x -timeout 60m ./internal/audit

bench-trail: deps ## the trail at scale (issue 24; opt-in): EVENTS (default 2 000 000) across 500 tenants, 13 months
	KEYPORT_BENCH_TRAIL=1 KEYPORT_BENCH_EVENTS=$(or $(EVENTS),2000000) $(GO) test -run '^$$' -bench TrailAtScale -benchtime 1x -timeout 180m ./internal/audit

clean: ## remove build output (not .keyport/ data)
	rm -rf bin
