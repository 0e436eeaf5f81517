package signal

import (
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestParseFrame(t *testing.T) {
	const self = "me"
	probe, _ := json.Marshal(probeMessage(self, "n1"))
	tests := []struct {
		name  string
		in    string
		kind  frameKind
		check func(t *testing.T, f frame)
	}{
		{"open", `{"type":"OPEN"}`, frameOpen, nil},
		{"id taken", `{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}`, frameRefused, wantErr(ErrIDTaken)},
		{"invalid key type", `{"type":"INVALID-KEY"}`, frameRefused, wantErr(ErrInvalidKey)},
		{"invalid key error", `{"type":"ERROR","payload":{"msg":"Invalid key provided"}}`, frameRefused, wantErr(ErrInvalidKey)},
		{"server error", `{"type":"ERROR","payload":{"msg":"Server has reached its concurrent user limit"}}`, frameRefused,
			func(t *testing.T, f frame) {
				var se *ServerError
				if !errors.As(f.err, &se) || se.Msg != "Server has reached its concurrent user limit" {
					t.Fatalf("err = %v, want ServerError with the message", f.err)
				}
			}},
		{"error without payload", `{"type":"ERROR"}`, frameRefused, func(t *testing.T, f frame) {
			var se *ServerError
			if !errors.As(f.err, &se) {
				t.Fatalf("err = %v, want *ServerError", f.err)
			}
		}},
		{"offer", `{"type":"OFFER","src":"a","dst":"me","payload":{"sdp":"x"}}`, frameRelay, func(t *testing.T, f frame) {
			if f.msg.Src != "a" || f.msg.Dst != "me" || string(f.msg.Payload) != `{"sdp":"x"}` {
				t.Fatalf("msg = %+v", f.msg)
			}
		}},
		{"expire from absent id", `{"type":"EXPIRE","src":"gone","dst":"me"}`, frameRelay, nil},
		{"own probe", string(probe[:len(probe)-1]) + `,"src":"me"}`, frameProbeEcho, func(t *testing.T, f frame) {
			if f.nonce != "n1" {
				t.Fatalf("nonce = %q", f.nonce)
			}
		}},
		{"probe payload from another id is relayed", `{"type":"EXPIRE","src":"x","dst":"me","payload":{"roomsProbe":"n"}}`, frameRelay, nil},
		{"relay without src", `{"type":"ANSWER","dst":"me"}`, frameIgnore, nil},
		{"heartbeat", `{"type":"HEARTBEAT"}`, frameIgnore, nil},
		{"unknown type", `{"type":"HELLO","src":"a"}`, frameIgnore, nil},
		{"missing type", `{"src":"a"}`, frameIgnore, nil},
		{"type not a string", `{"type":3}`, frameIgnore, nil},
		{"not an object", `[1,2]`, frameIgnore, nil},
		{"null", `null`, frameIgnore, nil},
		{"truncated", `{"type":"OFF`, frameIgnore, nil},
		{"empty", ``, frameIgnore, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseFrame([]byte(tt.in), self)
			if f.kind != tt.kind {
				t.Fatalf("parseFrame(%s).kind = %d, want %d (reason %q)", tt.in, f.kind, tt.kind, f.reason)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func wantErr(target error) func(*testing.T, frame) {
	return func(t *testing.T, f frame) {
		t.Helper()
		if !errors.Is(f.err, target) {
			t.Fatalf("err = %v, want %v", f.err, target)
		}
	}
}

// FuzzParseFrame feeds arbitrary frames to the client's decoder: it must
// not panic, and whatever it lets through must be something the client can
// act on.
func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"OPEN"}`,
		`{"type":"ERROR","payload":{"msg":"Invalid key provided"}}`,
		`{"type":"ERROR","payload":"str"}`,
		`{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}`,
		`{"type":"OFFER","src":"a","dst":"me","payload":{"sdp":"v=0"}}`,
		`{"type":"EXPIRE","src":"me","dst":"me","payload":{"roomsProbe":"abc"}}`,
		`{"type":"EXPIRE","src":"me","payload":{"roomsProbe":7}}`,
		`{"type":"LEAVE","src":""}`,
		`{"type":"CANDIDATE","src":"a","payload":null}`,
		`{"type":"x"}`, `{}`, `[]`, `"OPEN"`, `{"type":"OPEN"`, "\xff\xfe", ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := parseFrame(data, "me")
		switch fr.kind {
		case frameRelay:
			if fr.msg.Src == "" {
				t.Fatalf("relayed a message without src: %q", data)
			}
			switch fr.msg.Type {
			case TypeOffer, TypeAnswer, TypeCandidate, TypeLeave, TypeExpire:
			default:
				t.Fatalf("relayed type %q", fr.msg.Type)
			}
		case frameRefused:
			if fr.err == nil {
				t.Fatalf("refusal without error: %q", data)
			}
		case frameProbeEcho:
			if fr.nonce == "" {
				t.Fatalf("probe echo without nonce: %q", data)
			}
		case frameOpen, frameIgnore:
		default:
			t.Fatalf("unknown kind %d", fr.kind)
		}
	})
}

func TestServerURL(t *testing.T) {
	tests := []struct {
		in, ws, id string
	}{
		{"http://127.0.0.1:9000/", "ws://127.0.0.1:9000/peerjs?", "http://127.0.0.1:9000/peerjs/id?ts="},
		{"https://example.com", "wss://example.com/peerjs?", "https://example.com/peerjs/id?ts="},
		{"wss://example.com/signal", "wss://example.com/signal/peerjs?", "https://example.com/signal/peerjs/id?ts="},
		{"ws://[::1]:80/a/b/", "ws://[::1]:80/a/b/peerjs?", "http://[::1]:80/a/b/peerjs/id?ts="},
		{"HTTPS://user:pw@example.com:8443/p?q=1#f", "wss://example.com:8443/p/peerjs?", "https://example.com:8443/p/peerjs/id?ts="},
		{"http://h/a b/", "ws://h/a%20b/peerjs?", "http://h/a%20b/peerjs/id?ts="},
		{"http://h/x%2Fy", "ws://h/x%2Fy/peerjs?", "http://h/x%2Fy/peerjs/id?ts="},
		{"http://[fe80::1%25eth0]:9000", "ws://[fe80::1%25eth0]:9000/peerjs?", "http://[fe80::1%25eth0]:9000/peerjs/id?ts="},
	}
	for _, tt := range tests {
		s, err := parseServerURL(tt.in)
		if err != nil {
			t.Fatalf("parseServerURL(%q): %v", tt.in, err)
		}
		ws := s.wsURL("peerjs", "my id", "t&k")
		if !strings.HasPrefix(ws, tt.ws) {
			t.Errorf("wsURL from %q = %q, want prefix %q", tt.in, ws, tt.ws)
		}
		q, err := url.ParseQuery(ws[strings.Index(ws, "?")+1:])
		if err != nil || q.Get("key") != "peerjs" || q.Get("id") != "my id" || q.Get("token") != "t&k" {
			t.Errorf("wsURL query of %q = %v (%v)", ws, q, err)
		}
		if id := s.idURL("peerjs"); !strings.HasPrefix(id, tt.id) {
			t.Errorf("idURL from %q = %q, want prefix %q", tt.in, id, tt.id)
		}
	}
	for _, bad := range []string{
		"", "ftp://x/", "http://", "://x", "127.0.0.1:9000", "http:/x", "http:///p", "http://user@/",
		"http://a b/", "http://x:port/", "http://[::1/", "http://[::1]x/", "http://[zz]/",
		"http://x/%zz", "http://x/%4", "http://x/\n", "http://x/?\x7f",
	} {
		if _, err := parseServerURL(bad); err == nil {
			t.Errorf("parseServerURL(%q) succeeded", bad)
		}
	}
}

// The hand-written escapes match net/url's, which the wasm build does not
// link.
func TestEscapeComponent(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, in := range []string{"", "peerjs", "my id", "t&k=v+w", "a/b?c#d;e,f@g:h$i", "é✓", string(all)} {
		if got, want := escapeComponent(in, false), url.PathEscape(in); got != want {
			t.Errorf("escapeComponent(%q, path) = %q, want %q", in, got, want)
		}
		if got, want := escapeComponent(in, true), url.QueryEscape(in); got != want {
			t.Errorf("escapeComponent(%q, query) = %q, want %q", in, got, want)
		}
	}
}

// FuzzServerURL: parseServerURL never panics, and what it accepts gives
// URLs that net/url reads back with the same host and query values; where
// net/url accepts the input too, both agree on host and path.
func FuzzServerURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:9000/", "https://0.peerjs.com", "wss://u@[::1]:1/a b/%41?x#y", "HTTP://h/p%2f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := parseServerURL(raw)
		if err != nil {
			return
		}
		ws, err := url.Parse(s.wsURL("k y", "i&d", "t+=k"))
		if err != nil && strings.HasPrefix(s.host, "[") {
			return // only the syntax of IPv6 literals is checked; the dial refuses bad ones
		}
		if err != nil {
			t.Fatalf("wsURL of %q does not parse: %v", raw, err)
		}
		q := ws.Query()
		if ws.Host != s.host || q.Get("key") != "k y" || q.Get("id") != "i&d" || q.Get("token") != "t+=k" {
			t.Fatalf("wsURL of %q read back as host %q, query %v", raw, ws.Host, q)
		}
		ref, err := url.Parse(raw)
		if err != nil {
			return
		}
		refPath := ref.EscapedPath()
		if !strings.HasSuffix(refPath, "/") {
			refPath += "/"
		}
		if ref.Host != s.host || refPath != s.path {
			t.Fatalf("parseServerURL(%q) = host %q path %q; net/url: host %q path %q", raw, s.host, s.path, ref.Host, refPath)
		}
	})
}

// isIDSyntax matches the pattern the peerjs client library uses.
func TestIDSyntaxMatchesPattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$`)
	for _, id := range []string{"", "a", "A9", "a b", "a  b", "a_-b", "-", "a-", "-a", "a-b_c d", " a", "a ", "é", "a\x00b", "a.b", "a\nb"} {
		if got, want := isIDSyntax(id), pattern.MatchString(id); got != want {
			t.Errorf("isIDSyntax(%q) = %v, pattern says %v", id, got, want)
		}
	}
}

func FuzzIDSyntax(f *testing.F) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$`)
	for _, s := range []string{"a", "a-b", "a--b", " a", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := isIDSyntax(id), pattern.MatchString(id); got != want {
			t.Fatalf("isIDSyntax(%q) = %v, pattern says %v", id, got, want)
		}
	})
}

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"a", "room-1", "a_b c", "3f2a0c4e-9a3b-4c1d-8e2f-0123456789ab"} {
		if err := validateID(ok); err != nil {
			t.Errorf("validateID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "a-", "a--b", "a/b", "é", strings.Repeat("a", maxIDLen+1)} {
		if err := validateID(bad); !errors.Is(err, ErrInvalidID) {
			t.Errorf("validateID(%q) = %v, want ErrInvalidID", bad, err)
		}
	}
}

func TestCheckOutgoing(t *testing.T) {
	for _, typ := range []string{TypeOffer, TypeAnswer, TypeCandidate, TypeLeave} {
		if err := checkOutgoing(Message{Type: typ, Dst: "x"}); err != nil {
			t.Errorf("checkOutgoing(%s) = %v", typ, err)
		}
	}
	for _, m := range []Message{
		{Type: TypeOffer},                 // no dst
		{Type: TypeLeave},                 // would unregister ourselves on npm peer
		{Type: TypeHeartbeat, Dst: "x"},   // control frame
		{Type: TypeExpire, Dst: "x"},      // server's to send
		{Type: "BOGUS", Dst: "x"},         // unknown
		{Type: TypeOpen, Dst: "x"},        // server's to send
		{Type: TypeIDTaken, Dst: "x"},     // server's to send
		{Type: TypeError, Dst: "x"},       // server's to send
		{Type: TypeInvalidKey, Dst: "x"},  // server's to send
		{Type: TypeCandidate, Src: "me"},  // no dst
		{Type: TypeAnswer, Dst: ""},       // no dst
		{Type: "", Dst: "x", Src: "self"}, // no type
	} {
		if err := checkOutgoing(m); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("checkOutgoing(%+v) = %v, want ErrInvalidMessage", m, err)
		}
	}
}
