# make demo: build what the demos need (npm and Go dependencies, the browser
# library without its compressed copies, the React demo's bundle, bin/rooms)
# and start the demo server: the pages in web/, the library at /dist/ and
# signalling at /signal, on one port. It prints the URL to open in two or more tabs;
# Ctrl-C stops it.
#   make demo DEMO_ADDR=:8080     also serve other machines on your LAN
# Included from the Makefile, which defines deps and (via mk/dist.mk) dist-dev.
GO        ?= go
NODE      ?= node
DEMO_ADDR ?= 127.0.0.1:8080
# The React demo, bundled by esbuild from poll.jsx and the npm build's
# react.mjs (gitignored). web/test runs the same build.mjs. $(DIST)/index.mjs
# stands for the JS half of the library build, react.mjs included.
REACT_DEMO := web/react/bundle.js

.PHONY: demo demo-react

# dist-dev runs after deps (its esbuild step needs node_modules), hence the
# sub-make rather than two prerequisites that make -j could reorder. The
# server runs as bin/rooms rather than under go run, which reports an
# error when Ctrl-C stops it.
demo: deps
	@$(MAKE) --no-print-directory dist-dev demo-react
	$(GO) build -o bin/rooms ./cmd/rooms
	bin/rooms serve --addr $(DEMO_ADDR) --dir web --dist js/dist

demo-react: $(REACT_DEMO)

$(REACT_DEMO): web/react/build.mjs web/react/poll.jsx $(DIST)/index.mjs node_modules/.installed
	$(NODE) web/react/build.mjs
