package signal

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxIDLen bounds ids and tokens; PeerJS ids are UUIDs in practice.
const maxIDLen = 256

// validateID accepts the id syntax the peerjs client library accepts,
// ^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$: letters and digits in runs joined
// by single spaces, underscores or hyphens. Ids outside it could not be
// reached from a browser running peerjs. (Checked by hand rather than with
// regexp, which would weigh on the wasm build.)
func validateID(id string) error {
	if len(id) > maxIDLen || !isIDSyntax(id) {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	return nil
}

func isIDSyntax(id string) bool {
	afterSeparator := true // so a leading separator, or an empty id, fails
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			afterSeparator = false
		case c == ' ' || c == '_' || c == '-':
			if afterSeparator {
				return false
			}
			afterSeparator = true
		default:
			return false
		}
	}
	return !afterSeparator
}

// serverURL is a PeerJS server's base: scheme-less host and a path prefix
// ending in "/".
type serverURL struct {
	secure bool
	host   string
	path   string // escaped
}

// parseServerURL reads a server's base URL: scheme, host (any userinfo is
// dropped), and path; query and fragment are ignored. It is written out
// rather than built on net/url, which would weigh on the wasm build; the
// browser's WebSocket and fetch check the host further.
func parseServerURL(raw string) (serverURL, error) {
	fail := func(why string) (serverURL, error) {
		return serverURL{}, fmt.Errorf("signal server url %q: %s", raw, why)
	}
	if strings.IndexFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return fail("invalid control character in URL")
	}
	var s serverURL
	scheme, rest, found := strings.Cut(raw, "://")
	switch strings.ToLower(scheme) {
	case "http", "ws":
	case "https", "wss":
		s.secure = true
	default:
		found = false
	}
	if !found {
		return fail("scheme must be http, https, ws or wss")
	}
	authority, path := splitAfterScheme(rest)
	if authority == "" {
		return fail("no host")
	}
	if why := checkHost(authority); why != "" {
		return fail(why)
	}
	var err error
	if s.path, err = escapePath(path); err != nil {
		return fail(err.Error())
	}
	if !strings.HasSuffix(s.path, "/") {
		s.path += "/"
	}
	s.host = authority
	return s, nil
}

// splitAfterScheme splits what follows "scheme://" into host[:port] and
// path, dropping userinfo, query and fragment.
func splitAfterScheme(rest string) (authority, path string) {
	rest, _, _ = strings.Cut(rest, "#")
	rest, _, _ = strings.Cut(rest, "?")
	authority = rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	return authority, path
}

// checkHost says what is wrong with host[:port], or "" if nothing is.
func checkHost(hostport string) string {
	host, port, isIPv6 := hostport, "", strings.HasPrefix(hostport, "[")
	if isIPv6 {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "missing ']' in host"
		}
		host, port = hostport[1:end], hostport[end+1:]
		if port != "" && port[0] != ':' {
			return fmt.Sprintf("invalid port %q after host", port)
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i+1:]
	}
	if strings.Trim(port, "0123456789") != "" {
		return fmt.Sprintf("invalid port %q after host", ":"+port)
	}
	if isIPv6 {
		addr, _, _ := strings.Cut(host, "%25") // a zone may follow
		if addr == "" || strings.Trim(addr, "0123456789abcdefABCDEF:.") != "" {
			return fmt.Sprintf("invalid IPv6 address %q", host)
		}
		return ""
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c < 0x80 && !isUnreserved(c) && strings.IndexByte("!$&'()*+,;=", c) < 0 {
			return fmt.Sprintf("invalid character %q in host name", c)
		}
	}
	return ""
}

// escapePath returns the URL path p in escaped form, as net/url's
// EscapedPath does: p itself if it is validly escaped, else p decoded and
// escaped again.
func escapePath(p string) (string, error) {
	var decoded strings.Builder
	valid := true
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", fmt.Errorf("invalid URL escape %q", p[i:min(i+3, len(p))])
			}
			decoded.WriteByte(unhex(p[i+1])<<4 | unhex(p[i+2]))
			i += 2
			continue
		case !isUnreserved(c) && strings.IndexByte("/!$&'()*+,;=:@[]", c) < 0:
			valid = false
		}
		decoded.WriteByte(c)
	}
	if valid {
		return p, nil
	}
	return escape(decoded.String(), "$&+,/:;=@", false), nil
}

// escapeComponent percent-encodes s as a path segment, as url.PathEscape
// does, or, when query is set, as a query component, as url.QueryEscape
// does (spaces become +).
func escapeComponent(s string, query bool) string {
	if query {
		return escape(s, "", true)
	}
	return escape(s, "$&+:=@", false)
}

// escape percent-encodes the bytes of s other than unreserved ones and
// those in keep; spaceAsPlus writes spaces as +.
func escape(s, keep string, spaceAsPlus bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isUnreserved(c) || strings.IndexByte(keep, c) >= 0:
			b.WriteByte(c)
		case spaceAsPlus && c == ' ':
			b.WriteByte('+')
		default:
			writeEscaped(&b, c)
		}
	}
	return b.String()
}

func writeEscaped(b *strings.Builder, c byte) {
	const hexDigits = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&15])
}

// isUnreserved reports whether c never needs escaping in a URL (RFC 3986).
func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// idURL is where PeerJS servers hand out fresh ids: GET {base}{key}/id.
func (s serverURL) idURL(key string) string {
	scheme := "http"
	if s.secure {
		scheme = "https"
	}
	// ts defeats caches, as the peerjs client does.
	ts := strconv.FormatInt(time.Now().UnixNano(), 36)
	return scheme + "://" + s.host + s.path + escapeComponent(key, false) + "/id?ts=" + ts
}

// wsURL is the registration socket: {base}peerjs?id=&key=&token=.
func (s serverURL) wsURL(key, id, token string) string {
	scheme := "ws"
	if s.secure {
		scheme = "wss"
	}
	return scheme + "://" + s.host + s.path + "peerjs?id=" + escapeComponent(id, true) +
		"&key=" + escapeComponent(key, true) + "&token=" + escapeComponent(token, true)
}

// fetchedID checks the answer to an id request: ok says whether the status
// was 200, status is the status line ("404 Not Found") and body at most
// maxIDLen+1 bytes of the body.
func fetchedID(ok bool, status string, body []byte) (string, error) {
	if !ok {
		return "", fmt.Errorf("signal fetch id: %s: %q", status, body)
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
