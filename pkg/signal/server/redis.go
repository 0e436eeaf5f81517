package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// redisBackplane makes several Servers on one Redis act as one. Redis holds
// the id registry (hash per id: token, instance, gen; with a lease the
// holding instance refreshes) and the queues for absent ids; each instance
// subscribes to its own channel, and a message for an id held elsewhere is
// published to the holder's channel. Lookup+publish, lookup+enqueue and
// claim+dequeue are each one Lua script, so no message slips between a
// registration and its queue.
type redisBackplane struct {
	s    *Server
	rdb  *redis.Client
	own  bool // rdb was created from RedisURL and is closed by close
	inst string
	ns   string // "<prefix>:<key>:"
	ps   *redis.PubSub
	done chan struct{}
}

// opTimeout bounds one Redis round trip.
const opTimeout = 5 * time.Second

func newRedisBackplane(ctx context.Context, s *Server) (*redisBackplane, error) {
	rb := &redisBackplane{s: s, rdb: s.cfg.Redis, inst: rand.Text(), done: make(chan struct{})}
	if rb.rdb == nil {
		opt, err := redis.ParseURL(s.cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		rb.rdb, rb.own = redis.NewClient(opt), true
	}
	rb.ns = s.cfg.RedisPrefix + ":" + s.cfg.Key + ":"
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := rb.rdb.Ping(octx).Err(); err != nil {
		rb.closeClient()
		return nil, fmt.Errorf("redis ping: %w", err)
	}
	rb.ps = rb.rdb.Subscribe(octx, rb.channel(rb.inst))
	if _, err := rb.ps.Receive(octx); err != nil { // wait for the subscription
		_ = rb.ps.Close()
		rb.closeClient()
		return nil, fmt.Errorf("redis subscribe: %w", err)
	}
	go rb.receive()
	return rb, nil
}

func (rb *redisBackplane) closeClient() {
	if rb.own {
		_ = rb.rdb.Close()
	}
}

func (rb *redisBackplane) channel(inst string) string { return rb.ns + "inst:" + inst }
func (rb *redisBackplane) regKey(id string) string    { return rb.ns + "reg:" + id }
func (rb *redisBackplane) queueKey(id string) string  { return rb.ns + "q:" + id }
func (rb *redisBackplane) issuedKey(id string) string { return rb.ns + "issued:" + id }

func (rb *redisBackplane) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// claimScript registers KEYS[1] for token ARGV[1] at instance ARGV[2] with
// lease ARGV[3] ms and takes the id's queue KEYS[2].
// Returns {outcome, previous instance, gen, queued frames}.
var claimScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'token', 'instance')
local outcome, prev = 'new', ''
if cur[1] then
  if cur[1] ~= ARGV[1] then return {'taken', '', 0, {}} end
  outcome, prev = 'reconnect', cur[2] or ''
end
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'instance', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local q = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return {outcome, prev, gen, q}
`)

// routeScript publishes ARGV[1] to the instance holding KEYS[1] (returns 1,
// or 4 if nobody listened), or queues frame ARGV[3] on KEYS[2] if ARGV[2]
// is '1' (2, or 3 when the queue is full at ARGV[5]; lease ARGV[4] ms),
// else returns 0. ARGV[6] is the channel prefix.
var routeScript = redis.NewScript(`
local inst = redis.call('HGET', KEYS[1], 'instance')
if inst then
  if redis.call('PUBLISH', ARGV[6] .. inst, ARGV[1]) > 0 then return 1 end
  return 4
end
if ARGV[2] ~= '1' then return 0 end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[5]) then return 3 end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 2
`)

// releaseScript deletes KEYS[1] if instance ARGV[1] holds it at gen ARGV[2].
var releaseScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'instance', 'gen')
if cur[1] == ARGV[1] and cur[2] == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// refreshScript extends the lease of KEYS[1] if instance ARGV[1] holds it.
var refreshScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'instance') == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// takeScript removes and returns the queue KEYS[1].
var takeScript = redis.NewScript(`
local q = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return q
`)

// claimShared is claim for the Redis mode.
func (s *Server) claimShared(c *conn) bool {
	ctx, cancel := s.rb.ctx()
	defer cancel()
	res, err := claimScript.Run(ctx, s.rb.rdb,
		[]string{s.rb.regKey(c.id), s.rb.queueKey(c.id)},
		c.token, s.rb.inst, s.cfg.IDLease.Milliseconds()).Slice()
	if err != nil || len(res) != 4 {
		s.log.Error("redis claim failed", "id", c.id, "err", err)
		c.fail(MsgUnavailable, 1011) // internal error
		return false
	}
	outcome, _ := res[0].(string)
	prev, _ := res[1].(string)
	if outcome == "taken" {
		c.idTaken()
		return false
	}
	c.gen, _ = res[2].(int64)
	queued, _ := res[3].([]any)
	s.mu.Lock()
	old := s.clients[c.id]
	s.clients[c.id] = c
	c.active.Store(true)
	if outcome == "new" {
		c.send(openFrame)
	}
	for _, f := range queued {
		if str, ok := f.(string); ok {
			c.send([]byte(str))
		}
	}
	s.mu.Unlock()
	s.logClaim(c, outcome == "reconnect")
	if old != nil {
		old.active.Store(false)
	}
	if outcome == "reconnect" && prev != "" && prev != s.rb.inst {
		s.rb.publish(prev, "s"+c.id+"\n"+strconv.FormatInt(c.gen, 10))
	}
	return true
}

func (rb *redisBackplane) publish(inst, payload string) {
	ctx, cancel := rb.ctx()
	defer cancel()
	if err := rb.rdb.Publish(ctx, rb.channel(inst), payload).Err(); err != nil {
		rb.s.log.Error("redis publish failed", "instance", inst, "err", err)
	}
}

// route delivers frame to the instance holding m.Dst, or queues it.
func (rb *redisBackplane) route(m signal.Message, frame []byte, queueable bool) {
	ctx, cancel := rb.ctx()
	defer cancel()
	q := "0"
	if queueable {
		q = "1"
	}
	res, err := routeScript.Run(ctx, rb.rdb,
		[]string{rb.regKey(m.Dst), rb.queueKey(m.Dst)},
		"m"+m.Dst+"\n"+string(frame), q, frame,
		(4 * rb.s.cfg.ExpireTimeout).Milliseconds(), rb.s.cfg.QueuePerID, rb.ns+"inst:").Int()
	switch {
	case err != nil:
		rb.s.log.Error("redis route failed", "src", m.Src, "dst", m.Dst, "err", err)
	case res == 2:
		rb.s.notePending(m.Dst)
	case res == 3:
		rb.s.log.Warn("queue for absent id full; message dropped", "src", m.Src, "dst", m.Dst)
	case res == 4 && queueable:
		rb.s.peerDead(m)
	}
}

func (s *Server) notePending(dst string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[dst]; !ok {
		s.pending[dst] = time.Now().Add(s.cfg.ExpireTimeout)
	}
}

// takeQueued removes the queue for dst if it is still there (nobody
// registered dst meanwhile) and returns the senders of its frames.
func (rb *redisBackplane) takeQueued(dst string) []string {
	ctx, cancel := rb.ctx()
	defer cancel()
	frames, err := takeScript.Run(ctx, rb.rdb, []string{rb.queueKey(dst)}).StringSlice()
	if err != nil {
		rb.s.log.Error("redis take queue failed", "dst", dst, "err", err)
		return nil
	}
	srcs := make([]string, 0, len(frames))
	for _, f := range frames {
		var m signal.Message
		if json.Unmarshal([]byte(f), &m) == nil && m.Src != "" {
			srcs = append(srcs, m.Src)
		}
	}
	return srcs
}

func (rb *redisBackplane) release(id string, gen int64) {
	ctx, cancel := rb.ctx()
	defer cancel()
	if err := releaseScript.Run(ctx, rb.rdb, []string{rb.regKey(id)}, rb.inst, gen).Err(); err != nil {
		rb.s.log.Error("redis release failed", "id", id, "err", err)
	}
}

// refresh extends the leases of the ids this instance holds.
func (rb *redisBackplane) refresh(ids []string) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := rb.ctx()
	defer cancel()
	if err := refreshScript.Load(ctx, rb.rdb).Err(); err != nil {
		rb.s.log.Error("redis refresh failed", "err", err)
		return
	}
	lease := rb.s.cfg.IDLease.Milliseconds()
	_, err := rb.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			refreshScript.EvalSha(ctx, p, []string{rb.regKey(id)}, rb.inst, lease)
		}
		return nil
	})
	if err != nil {
		rb.s.log.Error("redis refresh failed", "ids", len(ids), "err", err)
	}
}

func (rb *redisBackplane) rememberIssued(id string, ttl time.Duration) error {
	ctx, cancel := rb.ctx()
	defer cancel()
	err := rb.rdb.Set(ctx, rb.issuedKey(id), 1, ttl).Err()
	if err != nil {
		rb.s.log.Error("redis remember id failed", "err", err)
	}
	return err
}

func (rb *redisBackplane) wasIssued(id string) bool {
	ctx, cancel := rb.ctx()
	defer cancel()
	n, err := rb.rdb.Exists(ctx, rb.issuedKey(id)).Result()
	if err != nil {
		rb.s.log.Error("redis check id failed", "err", err)
	}
	return n == 1
}

// receive handles frames and notices published to this instance.
func (rb *redisBackplane) receive() {
	defer close(rb.done)
	for msg := range rb.ps.Channel() {
		p := msg.Payload
		if len(p) < 2 {
			continue
		}
		head, body, _ := strings.Cut(p[1:], "\n")
		switch p[0] {
		case 'm':
			rb.deliver(head, []byte(body))
		case 's':
			gen, _ := strconv.ParseInt(body, 10, 64)
			rb.s.superseded(head, gen)
		}
	}
}

func (rb *redisBackplane) deliver(dst string, frame []byte) {
	if rb.s.deliverLocal(dst, frame) {
		return
	}
	var m signal.Message
	if json.Unmarshal(frame, &m) == nil && m.Type != signal.TypeLeave && m.Type != signal.TypeExpire {
		rb.s.peerDead(m)
	}
}

// superseded drops the local holder of id after a reconnect on another
// instance took it over at generation gen.
func (s *Server) superseded(id string, gen int64) {
	s.mu.Lock()
	c := s.clients[id]
	if c == nil || c.gen >= gen {
		s.mu.Unlock()
		return
	}
	delete(s.clients, id)
	s.mu.Unlock()
	c.active.Store(false)
	s.log.Debug("id taken over on another instance", "id", id)
}

// close releases the ids held by conns, unsubscribes and closes the client
// if the backplane created it.
func (rb *redisBackplane) close(conns []*conn) error {
	ctx, cancel := rb.ctx()
	defer cancel()
	_, err := rb.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range conns {
			if c.gen > 0 {
				releaseScript.Eval(ctx, p, []string{rb.regKey(c.id)}, rb.inst, c.gen)
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("redis release on close: %w", err)
	}
	_ = rb.ps.Close()
	<-rb.done
	rb.closeClient()
	return err
}
