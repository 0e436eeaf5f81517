package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rooms-dev/rooms/pkg/signal"
	"github.com/rooms-dev/rooms/pkg/signal/server"
)

func init() {
	registerCommand("signal", "run the PeerJS-protocol signalling server", runSignal)
}

// signalFlags are the flags of `rooms signal`.
type signalFlags struct {
	addr, path, key, allow, app, origins, redis string
	maxClients, maxPerIP                        int
	trustProxy, debug                           bool
}

func parseSignalFlags(args []string, stderr io.Writer) (signalFlags, error) {
	var f signalFlags
	fs := flag.NewFlagSet("rooms signal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:9000", "listen address (host:port)")
	fs.StringVar(&f.path, "path", "/", "URL path the server is mounted at (PeerJS `path` option)")
	fs.StringVar(&f.key, "key", "peerjs", "API key clients must present")
	fs.StringVar(&f.allow, "allow", "", "comma-separated room ids that may be claimed (Rooms apps claim a hash of --app and the room id; both forms are allowed); throwaway ids from GET /{key}/id stay possible")
	fs.StringVar(&f.app, "app", "rooms", "app id of the Rooms app whose rooms --allow names (the appId option of the library)")
	fs.StringVar(&f.origins, "origins", "", "comma-separated allowed browser origins (host patterns like *.example.com, or full origins); empty allows all")
	fs.StringVar(&f.redis, "redis", "", "Redis URL (redis://host:port/db) to share ids and route messages between instances")
	fs.IntVar(&f.maxClients, "max-clients", 0, "maximum open sockets (0: 5000, negative: no limit)")
	fs.IntVar(&f.maxPerIP, "max-clients-per-ip", 0, "maximum open sockets per client address (0: 100, negative: no limit)")
	fs.BoolVar(&f.trustProxy, "trust-proxy", false, "take client addresses from X-Forwarded-For (behind a reverse proxy)")
	fs.BoolVar(&f.debug, "debug", false, "log at debug level")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if !strings.HasPrefix(f.path, "/") {
		return f, fmt.Errorf("%w: --path must start with /", errUsage)
	}
	return f, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// allowedIDs turns room ids into the ids clients claim: the room id itself
// (plain PeerJS clients) and its Rooms form, a hash with the app id.
func allowedIDs(app string, rooms []string) []string {
	var ids []string
	for _, r := range rooms {
		ids = append(ids, r, signal.RoomID(app, r))
	}
	return ids
}

// runSignal serves until ctx is cancelled (SIGINT/SIGTERM), then closes
// every socket and returns nil.
func runSignal(ctx context.Context, args []string, _, stderr io.Writer) error {
	f, err := parseSignalFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(stderr, f.debug)
	srv, err := server.New(server.Config{
		Key: f.key, AllowRooms: allowedIDs(f.app, splitList(f.allow)), AllowOrigins: splitList(f.origins),
		RedisURL: f.redis, MaxClients: f.maxClients, MaxClientsPerIP: f.maxPerIP,
		TrustForwardedFor: f.trustProxy, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen: %w", err)
	}
	hs := server.NewHTTPServer(f.addr, mount(f.path, srv))
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("signalling server listening", "addr", ln.Addr().String(), "path", f.path, "key", f.key, "redis", f.redis != "")
	select {
	case err = <-served:
		srv.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	closeErr := srv.Close() // WebSockets are hijacked: Shutdown does not see them
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return closeErr
}

// mount serves h at path, with the path stripped as the handler expects.
func mount(path string, h http.Handler) http.Handler {
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle(path+"/", http.StripPrefix(path, h))
	return mux
}
