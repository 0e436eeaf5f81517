# make test-e2e: the browser end-to-end tests alone (headless Chromium via
# playwright-core; see js/test/doc.go). `go test ./...` runs them too.
GO   ?= go
E2E_LOOPBACK_ONLY := $(shell unshare -n true 2>/dev/null && echo "unshare -n sh -c 'ip link set lo up && exec \"\$$@\"' --")

.PHONY: test-e2e

test-e2e:
	$(E2E_LOOPBACK_ONLY) $(GO) test -count=1 -v ./js/test/
