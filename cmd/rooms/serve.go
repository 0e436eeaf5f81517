package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/rooms-dev/rooms/pkg/signal/server"
)

func init() {
	registerCommand("serve", "serve the demos and the browser library, with signalling built in", runServe)
}

// signalPath is where `rooms serve` mounts the signalling server; the demos
// point the library there by default.
const signalPath = "/signal"

type serveFlags struct {
	addr, dir, dist string
	debug           bool
}

func parseServeFlags(args []string, stderr io.Writer) (serveFlags, error) {
	var f serveFlags
	fs := flag.NewFlagSet("rooms serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address (host:port); use :8080 to serve other machines on your LAN")
	fs.StringVar(&f.dir, "dir", "web", "directory of pages to serve at /")
	fs.StringVar(&f.dist, "dist", "js/dist", "directory of the built library (make dist), served at /dist/")
	fs.BoolVar(&f.debug, "debug", false, "log at debug level")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	return f, nil
}

// runServe is the development server: pages, the library with the right
// content types and precompressed variants, and the signalling endpoint at
// /signal, all on one port.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, dir := range []string{f.dir, f.dist} {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("serve: %s is not a directory (run from the repository root, after make dist)", dir)
		}
	}
	log := newLogger(stderr, f.debug)
	sig, err := server.New(server.Config{Logger: log})
	if err != nil {
		return err
	}
	defer sig.Close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := server.NewHTTPServer(f.addr, siteHandler(f.dir, f.dist, sig))
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "Rooms demo server: http://%s/  (open it in two or more tabs)\n", ln.Addr())
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	_ = sig.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// siteHandler routes /signal/ to the signalling server, /dist/ to the
// library and everything else to the pages.
func siteHandler(dir, dist string, sig http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(signalPath+"/", http.StripPrefix(signalPath, sig))
	mux.Handle("/dist/", http.StripPrefix("/dist", staticHandler(dist)))
	mux.Handle("/", staticHandler(dir))
	return mux
}

// compressions are the precompressed variants served when the browser
// accepts them, best first.
var compressions = []struct{ encoding, suffix string }{{"br", ".br"}, {"gzip", ".gz"}}

// staticHandler serves files from root; for a file with a precompressed
// sibling (rooms.wasm.br) it serves that when Accept-Encoding allows, with
// the original's content type. Pages are revalidated on every load (no-cache)
// so an edit or a rebuild shows at once.
func staticHandler(root string) http.Handler {
	files := http.Dir(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Clean("/" + r.URL.Path)
		if strings.HasSuffix(r.URL.Path, "/") {
			name = path.Join(name, "index.html")
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Add("Vary", "Accept-Encoding")
		if ctype := contentType(name); ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		for _, c := range compressions {
			if !acceptsEncoding(r, c.encoding) {
				continue
			}
			if fh, err := files.Open(name + c.suffix); err == nil {
				defer fh.Close()
				if st, err := fh.Stat(); err == nil && !st.IsDir() {
					w.Header().Set("Content-Encoding", c.encoding)
					http.ServeContent(w, r, name, st.ModTime(), fh)
					return
				}
			}
		}
		fh, err := files.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer fh.Close()
		st, err := fh.Stat()
		if err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, name, st.ModTime(), fh)
	})
}

func contentType(name string) string {
	switch filepath.Ext(name) {
	case ".wasm":
		return "application/wasm"
	case ".mjs", ".js":
		return "text/javascript; charset=utf-8"
	}
	return mime.TypeByExtension(filepath.Ext(name))
}

func acceptsEncoding(r *http.Request, encoding string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		fields := strings.Split(strings.TrimSpace(part), ";")
		if strings.EqualFold(fields[0], encoding) && !strings.Contains(strings.ReplaceAll(part, " ", ""), "q=0") {
			return true
		}
	}
	return false
}
