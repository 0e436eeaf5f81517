# Rooms — build, test and benchmark entry points. See README.md.
GO      ?= go
SEEDS   ?= 200
BENCHTIME ?= 1x

# Tests and benchmarks run in a fresh network namespace that has only the
# loopback interface when this machine lets us make one (root + unshare), so
# no test can send a packet anywhere but 127.0.0.1/::1.
LOOPBACK_ONLY := $(shell unshare -n true 2>/dev/null && echo "unshare -n sh -c 'ip link set lo up && exec \"\$$@\"' --")

.PHONY: all test test-go lint bench soak deps demo dist clean

all: test

# make dist (the browser library in js/dist) and make test-e2e (browser tests alone).
include mk/dist.mk
include mk/e2e.mk
include mk/demo.mk

dist: deps

deps: node_modules/.installed
	$(GO) mod download

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./pkg/signal ./pkg/mesh ./pkg/state ./pkg/raftnode ./pkg/room ./wasm ./js/test/gofloor
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

test: deps lint test-go

test-go:
	$(LOOPBACK_ONLY) $(GO) test -count=1 ./...

# Long randomized runs of the raft simulation: make soak SEEDS=1000
# (ROOMS_SOAK_FIRST=N picks the first seed). Prints each failure with its
# seed and a summary; fails unless every seed passed.
soak: deps
	@$(LOOPBACK_ONLY) env ROOMS_SOAK_SEEDS=$(SEEDS) $(GO) test -count=1 -run 'TestSoak' -timeout 0 -v ./pkg/raftnode/ 2>&1 | \
	  awk -v want=$(SEEDS) '/--- PASS: TestSoak\//{p++} /--- FAIL: TestSoak\//{f++} /--- FAIL|violat|replay:|panic/{print} \
	    END{printf "soak: %d of %d seeds passed, %d failed\n", p, want, f; exit (p != want)}'

# Benchmarks print figures; they are not pass/fail on speed.
bench: deps
	$(LOOPBACK_ONLY) $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./...

clean:
	rm -rf bin js/dist test-artifacts
