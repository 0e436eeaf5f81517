package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// startRedis runs a throwaway redis-server on a free loopback port and
// returns its URL.
func startRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (apt-get install redis-server): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--maxclients", "20000")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 2)
	go func() { // reads stdout to EOF so redis never blocks on it
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("redis-server exited before it was ready")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("redis-server not ready after 10 s")
	}
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port)
}

// twoInstances starts two Servers sharing one Redis.
func twoInstances(t *testing.T, cfg Config) (*testServer, *testServer) {
	t.Helper()
	cfg.RedisURL = startRedis(t)
	return newTestServer(t, cfg), newTestServer(t, cfg)
}

func TestRedisRelayAcrossInstances(t *testing.T) {
	s1, s2 := twoInstances(t, Config{})
	a := register(t, s1.url, "alice", "ta")
	b := register(t, s2.url, "bob", "tb")
	a.sendRaw(`{"type":"OFFER","src":"mallory","dst":"bob","payload":{"sdp":"x"}}`)
	if m := b.expectType(signal.TypeOffer); m.Src != "alice" || string(m.Payload) != `{"sdp":"x"}` {
		t.Fatalf("bob got %+v", m)
	}
	b.sendMsg(signal.Message{Type: signal.TypeAnswer, Dst: "alice"})
	if m := a.expectType(signal.TypeAnswer); m.Src != "bob" {
		t.Fatalf("alice got %+v", m)
	}
}

func TestRedisIDTakenAcrossInstances(t *testing.T) {
	s1, s2 := twoInstances(t, Config{})
	register(t, s1.url, "room", "t1")
	thief := dial(t, s2.url, "room", "t2")
	thief.expectType(signal.TypeIDTaken)
	thief.expectClosed()
}

// A reconnect with the same token on another instance takes the id over
// there, without OPEN; messages then go to the new socket only.
func TestRedisReconnectAcrossInstances(t *testing.T) {
	s1, s2 := twoInstances(t, Config{})
	old := register(t, s1.url, "room", "t1")
	b := register(t, s1.url, "bob", "tb")
	fresh := dial(t, s2.url, "room", "t1")
	eventually(t, "notice reaches the old instance", func() bool { return !s1.holds("room") && s2.holds("room") })
	b.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "room"})
	if m := fresh.mustNext(); m.Type != signal.TypeOffer || m.Src != "bob" {
		t.Fatalf("new socket got %+v first, want the OFFER (no OPEN)", m)
	}
	old.expectSilence(100 * time.Millisecond)
}

func TestRedisExpireAcrossInstances(t *testing.T) {
	s1, _ := twoInstances(t, Config{ExpireTimeout: 150 * time.Millisecond})
	a := register(t, s1.url, "alice", "ta")
	a.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "ghost"})
	if m := a.expectType(signal.TypeExpire); m.Src != "ghost" || m.Dst != "alice" {
		t.Fatalf("EXPIRE %+v", m)
	}
}

func TestRedisQueuedDeliveredOnOtherInstance(t *testing.T) {
	s1, s2 := twoInstances(t, Config{ExpireTimeout: time.Minute})
	a := register(t, s1.url, "alice", "ta")
	a.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "bob", Payload: json.RawMessage(`1`)})
	eventually(t, "queued", func() bool {
		s1.mu.Lock()
		defer s1.mu.Unlock()
		_, ok := s1.pending["bob"]
		return ok
	})
	b := register(t, s2.url, "bob", "tb")
	if m := b.expectType(signal.TypeOffer); m.Src != "alice" || string(m.Payload) != "1" {
		t.Fatalf("bob got %+v", m)
	}
}

// Close frees the instance's ids at once; a crashed instance's ids are
// freed by the lease.
func TestRedisLeaseAndRelease(t *testing.T) {
	url := startRedis(t)
	s1 := newTestServer(t, Config{RedisURL: url, IDLease: 600 * time.Millisecond})
	s2 := newTestServer(t, Config{RedisURL: url, IDLease: 600 * time.Millisecond})
	register(t, s1.url, "room", "t1")
	// Refreshes keep the id past several leases.
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")})
	defer rdb.Close()
	key := "rooms:signal:peerjs:reg:room"
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n, _ := rdb.Exists(context.Background(), key).Result(); n != 1 {
			t.Fatal("registration lease lapsed while its instance is alive")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	register(t, s2.url, "room", "t2")
	// Simulate a crash: an instance that stops refreshing.
	rdb.HSet(context.Background(), "rooms:signal:peerjs:reg:dead", "token", "x", "instance", "gone")
	rdb.PExpire(context.Background(), "rooms:signal:peerjs:reg:dead", 200*time.Millisecond)
	dial(t, s2.url, "dead", "other").expectType(signal.TypeIDTaken)
	eventually(t, "lease lapse", func() bool {
		n, _ := rdb.Exists(context.Background(), "rooms:signal:peerjs:reg:dead").Result()
		return n == 0
	})
	register(t, s2.url, "dead", "other")
}

func TestRedisAllowListIssuedIDs(t *testing.T) {
	s1, s2 := twoInstances(t, Config{AllowRooms: []string{"room"}})
	resp, err := httpGet(s1.url + "/peerjs/id")
	if err != nil {
		t.Fatal(err)
	}
	register(t, s2.url, resp, "t") // handed out by s1, claimed on s2
	dial(t, s2.url, "other", "t").expectError(MsgIDNotAllowed)
}
