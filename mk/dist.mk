# make dist: the browser library in js/dist (see js/package.json).
#   rooms.wasm (+ .br, .gz)  pkg/room for the browser (./wasm)
#   rooms.js                 script-tag build: window.Rooms.Room
#   index.mjs, react.mjs     ES modules (import { Room } from 'rooms' / 'rooms/react')
#   wasm_exec.js, *.d.ts
# Works included from the Makefile or alone: make -f mk/dist.mk dist
GO      ?= go
NODE    ?= node
DIST    := js/dist

DIST_GO_SRCS := go.mod go.sum $(shell find wasm pkg -name '*.go' -not -name '*_test.go' 2>/dev/null)
DIST_JS_SRCS := js/build.mjs js/index.d.ts js/react.d.ts $(wildcard js/src/*.js)

.PHONY: dist dist-dev

dist: dist-dev $(DIST)/rooms.wasm.br $(DIST)/rooms.wasm.gz

# Everything but the compressed copies (brotli -q 11 takes a minute).
dist-dev: $(DIST)/rooms.wasm $(DIST)/index.mjs

$(DIST)/rooms.wasm: $(DIST_GO_SRCS)
	@mkdir -p $(DIST)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o $@ ./wasm

$(DIST)/rooms.wasm.br: $(DIST)/rooms.wasm
	brotli -q 11 -f -o $@ $<

$(DIST)/rooms.wasm.gz: $(DIST)/rooms.wasm
	gzip -9 -n -c $< > $@

# One esbuild run writes rooms.js, index.mjs, react.mjs, wasm_exec.js and the
# .d.ts files; index.mjs stands for them all.
$(DIST)/index.mjs: $(DIST_JS_SRCS)
	GO=$(GO) $(NODE) js/build.mjs
