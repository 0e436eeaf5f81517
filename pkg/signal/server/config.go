package server

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config configures a Server. The zero Config is valid: every zero field
// takes the default documented on it. Limits use 0 for "default" and a
// negative value for "no limit".
type Config struct {
	// Key is the PeerJS API key clients must present. Default "peerjs".
	Key string

	// AllowRooms, when non-empty, restricts which ids may be claimed: only
	// ids in this list (exactly as clients claim them), ids accepted by
	// AllowID, and throwaway ids this server handed out from GET /{key}/id
	// may register. Without AllowRooms and AllowID every id may register.
	AllowRooms []string
	// AllowID, when set, is asked about every id that is not in AllowRooms
	// and was not handed out by GET /{key}/id; true lets the id register.
	// Use it when claimed ids are derived (for example hashed) from room ids.
	AllowID func(id string) bool
	// IssuedIDTTL is how long an id handed out by GET /{key}/id stays
	// claimable under an allow-list. Default 10 minutes.
	IssuedIDTTL time.Duration

	// ExpireTimeout is how long a message to an absent id waits for that id
	// to register before the sender gets EXPIRE. Default 5 s (npm peer).
	ExpireTimeout time.Duration
	// AliveTimeout closes a socket that sent no frame at all for this long.
	// PeerJS clients send HEARTBEAT every 5 s. Default 60 s.
	AliveTimeout time.Duration
	// WriteTimeout bounds one write to a client; a client that cannot take
	// a frame in this time is disconnected. Default 10 s.
	WriteTimeout time.Duration
	// SendQueue is how many frames may wait for a slow client before it is
	// disconnected. Default 256.
	SendQueue int
	// QueuePerID caps the frames waiting for one absent id; more are
	// dropped. Default 100.
	QueuePerID int

	// MaxMessageBytes is the largest frame a client may send. Default 64 KiB.
	MaxMessageBytes int
	// MessagesPerSecond is the sustained frame rate allowed per socket, with
	// bursts of MessageBurst. Defaults 50/s and 200.
	MessagesPerSecond float64
	MessageBurst      int
	// MaxClients caps open sockets on this instance. Default 5000 (npm peer's
	// concurrent_limit); negative means no limit.
	MaxClients int
	// MaxClientsPerIP caps open sockets per client address. Default 100;
	// negative means no limit.
	MaxClientsPerIP int
	// TrustForwardedFor takes the client address from the last entry of
	// X-Forwarded-For (set by your reverse proxy) instead of the TCP peer.
	TrustForwardedFor bool

	// AllowOrigins, when non-empty, lists the browser origins that may use
	// the server. A pattern without "://" is matched (path.Match syntax,
	// case-insensitive) against the origin's host, e.g. "*.example.com";
	// one with "://" against the whole origin, e.g. "https://app.example".
	// Requests without an Origin header (non-browser clients) are allowed.
	AllowOrigins []string

	// Logger receives structured logs; debug level logs every dropped
	// frame. Default slog.Default().
	Logger *slog.Logger

	// RedisURL (redis://host:port/db) or Redis turns on the Redis backplane:
	// instances sharing one Redis and Key act as one server. Redis wins if
	// both are set; a client passed in Redis is not closed by Close.
	RedisURL string
	Redis    *redis.Client
	// RedisPrefix namespaces the backplane's keys and channels. Default
	// "rooms:signal".
	RedisPrefix string
	// IDLease is how long a registration in Redis outlives the instance
	// holding it if that instance stops refreshing it (crashes). Default 30 s.
	IDLease time.Duration
}

// ErrConfig is wrapped by New's error when a Config field is invalid.
var ErrConfig = errors.New("invalid server config")

func (c Config) withDefaults() (Config, error) {
	if c.Key == "" {
		c.Key = "peerjs"
	}
	if !validID(c.Key) {
		return c, fmt.Errorf("%w: key %q", ErrConfig, c.Key)
	}
	durations := []struct {
		d   *time.Duration
		def time.Duration
	}{
		{&c.IssuedIDTTL, 10 * time.Minute},
		{&c.ExpireTimeout, 5 * time.Second},
		{&c.AliveTimeout, 60 * time.Second},
		{&c.WriteTimeout, 10 * time.Second},
		{&c.IDLease, 30 * time.Second},
	}
	for _, d := range durations {
		if *d.d < 0 {
			return c, fmt.Errorf("%w: negative duration %v", ErrConfig, *d.d)
		}
		if *d.d == 0 {
			*d.d = d.def
		}
	}
	ints := []struct {
		v   *int
		def int
	}{
		{&c.SendQueue, 256},
		{&c.QueuePerID, 100},
		{&c.MaxMessageBytes, 64 << 10},
		{&c.MessageBurst, 200},
		{&c.MaxClients, 5000},
		{&c.MaxClientsPerIP, 100},
	}
	for _, i := range ints {
		if *i.v == 0 {
			*i.v = i.def
		}
	}
	if c.SendQueue < 0 || c.QueuePerID < 0 || c.MaxMessageBytes < 0 || c.MessageBurst < 0 {
		return c, fmt.Errorf("%w: SendQueue, QueuePerID, MaxMessageBytes and MessageBurst must not be negative", ErrConfig)
	}
	if c.MessagesPerSecond == 0 {
		c.MessagesPerSecond = 50
	}
	if c.MessagesPerSecond < 0 {
		return c, fmt.Errorf("%w: negative MessagesPerSecond", ErrConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "rooms:signal"
	}
	return c, nil
}
