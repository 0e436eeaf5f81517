package server

import (
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// Messages carried in the payload of the ERROR frame sent before the server
// closes a socket. The first three are npm peer's exact texts.
const (
	MsgInvalidParams    = "No id, token, or key supplied to websocket server"
	MsgInvalidKey       = "Invalid key provided"
	MsgServerFull       = "Server has reached its concurrent user limit"
	MsgTooManyFromIP    = "Too many connections from your address"
	MsgInvalidID        = "Invalid id or token"
	MsgIDNotAllowed     = "ID is not allowed on this server"
	MsgOriginNotAllowed = "Origin not allowed"
	MsgTooLarge         = "Message too large"
	MsgRateLimited      = "Rate limit exceeded"
	MsgUnavailable      = "Server unavailable"
)

// originAllowed applies Config.AllowOrigins. Requests without Origin come
// from non-browser clients, which can forge any header anyway.
func (s *Server) originAllowed(r *http.Request) bool {
	if len(s.cfg.AllowOrigins) == 0 {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	full := strings.ToLower(u.Scheme + "://" + u.Host)
	host := strings.ToLower(u.Host)
	for _, p := range s.cfg.AllowOrigins {
		p = strings.ToLower(p)
		target := host
		if strings.Contains(p, "://") {
			target = full
		}
		if ok, _ := path.Match(p, target); ok {
			return true
		}
	}
	return false
}

// clientIP is the address limits are counted against.
func (s *Server) clientIP(r *http.Request) string {
	if s.cfg.TrustForwardedFor {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// allowListed reports whether the allow-list lets id register. Throwaway
// ids handed out by GET /{key}/id always may, so newcomers can knock.
func (s *Server) allowListed(id string) bool {
	if len(s.allowRooms) == 0 && s.cfg.AllowID == nil {
		return true
	}
	if _, ok := s.allowRooms[id]; ok {
		return true
	}
	if s.cfg.AllowID != nil && s.cfg.AllowID(id) {
		return true
	}
	return s.wasIssued(id)
}

// maxIssued bounds the memory of remembered throwaway ids (local mode).
const maxIssued = 200_000

func (s *Server) rememberIssued(id string) bool {
	if len(s.allowRooms) == 0 && s.cfg.AllowID == nil {
		return true
	}
	if s.rb != nil {
		return s.rb.rememberIssued(id, s.cfg.IssuedIDTTL) == nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.issued) >= maxIssued {
		return false
	}
	s.issued[id] = time.Now().Add(s.cfg.IssuedIDTTL)
	return true
}

func (s *Server) wasIssued(id string) bool {
	if s.rb != nil {
		return s.rb.wasIssued(id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.issued[id]
	return ok && time.Now().Before(exp)
}

func (s *Server) pruneIssuedLocked(now time.Time) {
	for id, exp := range s.issued {
		if now.After(exp) {
			delete(s.issued, id)
		}
	}
}
