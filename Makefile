# tenantproxy — see README.md.
GO ?= go
BIN := bin/tenantproxy
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build demo test vet fmt bench-pgbench bench-sysbench fuzz clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/tenantproxy

# The demo: build, seed the demo tenants on the local Postgres, start the proxy.
demo: build
	$(GO) run ./cmd/demo seed
	@echo
	@echo "tenantproxy is starting. Connect with:"
	@echo "  psql 'postgres://alice:alice-secret@127.0.0.1:6432/alpha'   # admin on alpha"
	@echo "  psql 'postgres://bob:bob-secret@127.0.0.1:6432/beta'        # viewer on beta: 100 rows at most, emails masked"
	@echo "  curl -s 127.0.0.1:8080/metrics | grep tenantproxy_"
	@echo "  TOKEN=\$$(curl -s -X POST 127.0.0.1:8080/api/v1/auth/login -d '{\"username\":\"alice\",\"password\":\"alice-secret\",\"tenant_id\":\"alpha\"}' | cut -d'\"' -f4)"
	@echo "  curl -s -H \"Authorization: Bearer \$$TOKEN\" -X POST 127.0.0.1:8080/api/v1/tenant/query -d '{\"query\":\"how many customers per country\"}'"
	@echo "Stop with Ctrl-C (SIGTERM drains)."
	@echo
	./$(BIN) --config configs/demo.yaml

# The whole test suite (needs the local PostgreSQL, MariaDB and Redis).
test: vet
	$(GO) test -race -count=1 -timeout 25m ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

bench-pgbench: build
	bash test/bench/pgbench.sh

bench-sysbench: build
	bash test/bench/sysbench.sh

clean:
	rm -rf bin
