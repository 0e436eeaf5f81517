package signal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxIDLen bounds ids and tokens; PeerJS ids are UUIDs in practice.
const maxIDLen = 256

// idPattern is the id syntax the peerjs client library accepts; ids outside
// it could not be reached from a browser running peerjs.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$`)

func validateID(id string) error {
	if len(id) > maxIDLen || !idPattern.MatchString(id) {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	return nil
}

// serverURL is a PeerJS server's base: scheme-less host and a path prefix
// ending in "/".
type serverURL struct {
	secure bool
	host   string
	path   string
}

func parseServerURL(raw string) (serverURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return serverURL{}, fmt.Errorf("signal server url %q: %w", raw, err)
	}
	var s serverURL
	switch u.Scheme {
	case "http", "ws":
	case "https", "wss":
		s.secure = true
	default:
		return serverURL{}, fmt.Errorf("signal server url %q: scheme must be http, https, ws or wss", raw)
	}
	if u.Host == "" {
		return serverURL{}, fmt.Errorf("signal server url %q: no host", raw)
	}
	s.host = u.Host
	s.path = u.EscapedPath()
	if !strings.HasSuffix(s.path, "/") {
		s.path += "/"
	}
	return s, nil
}

// idURL is where PeerJS servers hand out fresh ids: GET {base}{key}/id.
func (s serverURL) idURL(key string) string {
	scheme := "http"
	if s.secure {
		scheme = "https"
	}
	// ts defeats caches, as the peerjs client does.
	ts := strconv.FormatInt(time.Now().UnixNano(), 36)
	return scheme + "://" + s.host + s.path + url.PathEscape(key) + "/id?ts=" + ts
}

// wsURL is the registration socket: {base}peerjs?key=&id=&token=.
func (s serverURL) wsURL(key, id, token string) string {
	scheme := "ws"
	if s.secure {
		scheme = "wss"
	}
	q := url.Values{"key": {key}, "id": {id}, "token": {token}}
	return scheme + "://" + s.host + s.path + "peerjs?" + q.Encode()
}

func fetchID(ctx context.Context, hc *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("signal fetch id: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("signal fetch id: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIDLen+1))
	if err != nil {
		return "", fmt.Errorf("signal fetch id: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("signal fetch id: %s: %q", resp.Status, body)
	}
	id := strings.TrimSpace(string(body))
	if err := validateID(id); err != nil {
		return "", fmt.Errorf("signal fetch id: %w", err)
	}
	return id, nil
}

// randomToken returns 128 random bits; the token is the only secret that
// guards an id against takeover.
func randomToken() string {
	return hex.EncodeToString(randomBytes(16))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return b
}
