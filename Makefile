# mailsync — `make help` lists the targets.
SHELL := /bin/bash
BIN_CACHE ?= $(HOME)/.cache/mailsync/bin
SQLC_VERSION := v1.31.1
OAPI_VERSION := v2.8.2
SQLC := $(BIN_CACHE)/sqlc-$(SQLC_VERSION)/sqlc
OAPI := $(BIN_CACHE)/oapi-codegen-$(OAPI_VERSION)/oapi-codegen
DEVMONGO := $(BIN_CACHE)/devmongo
DEVMONGO_SRC := $(wildcard tools/devmongo/*.go) tools/devmongo/go.mod tools/devmongo/go.sum
export MAILSYNC_DEVMONGO_BIN := $(DEVMONGO)

.PHONY: help run run-note build test verify generate lint bench chaos soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/server
	go build -o bin/server ./cmd/server

run: run-note build $(DEVMONGO) ## start PostgreSQL (if down) and devmongo (unless MONGO_URL is set), migrate, serve on 127.0.0.1:8080 (HTTP_ADDR)
	@scripts/run.sh

# Says what the first make run builds, which takes minutes without output.
run-note:
	@if [ ! -x $(DEVMONGO) ]; then echo "make run: first start, building bin/server and devmongo (FerretDB, the dev" \
	  "MongoDB-compatible server, into $(BIN_CACHE)): about 3 minutes on 2 CPUs; later starts take seconds"; \
	elif [ ! -x bin/server ]; then echo "make run: building bin/server (the first build compiles its dependencies)"; fi

clean: ## drop make run's databases (mailsync, mailsync_mongo or DATABASE_URL's) and remove .run/ and bin/
	@scripts/clean.sh
	rm -rf bin

test: $(DEVMONGO) ## run every test (starts what the tests need)
	@scripts/test.sh

generate: $(SQLC) $(OAPI) ## regenerate sqlc and oapi-codegen output
	$(SQLC) generate
	$(OAPI) -config api/oapi-codegen.yaml api/openapi.yaml
	$(OAPI) -config api/oapi-codegen-client.yaml api/openapi.yaml

verify: generate ## regenerate and fail on any drift from the committed code
	@git add -N internal/db/gen internal/api client/api.gen.go >/dev/null 2>&1 || true
	@git diff --exit-code --stat -- internal/db/gen internal/api client/api.gen.go || { echo "generated code drifted: run make generate and commit"; exit 1; }
	@echo "verify: generated code is up to date"

lint: ## gofmt, go vet and go mod tidy -diff
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }
	go vet ./...
	go mod tidy -diff
	cd tools/devmongo && go vet ./... && go mod tidy -diff

bench: $(DEVMONGO) ## benchmarks with baselines and ratios
	@scripts/bench.sh

chaos: $(DEVMONGO) ## chaos suite: 3 instances, SIGKILL, MongoDB outage, PostgreSQL restart; nothing lost or doubled
	@scripts/chaos.sh full

soak: $(DEVMONGO) ## steady load with memory/goroutine readouts and a trend check (DURATION=10m, WORKERS=2)
	@MAILSYNC_SOAK_WORKERS=$(or $(WORKERS),2) scripts/soak.sh $(or $(DURATION),2m)

$(SQLC):
	GOBIN=$(dir $@) go install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)

$(OAPI):
	GOBIN=$(dir $@) go install github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@$(OAPI_VERSION)

$(DEVMONGO): $(DEVMONGO_SRC)
	@mkdir -p $(BIN_CACHE)
	cd tools/devmongo && go build -o $(DEVMONGO) .
