package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/internal/signaltest"
	"github.com/rooms-dev/rooms/pkg/signal/server"
	"github.com/rooms-dev/rooms/pkg/state"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

const testTimeout = 30 * time.Second

// startSignal runs our PeerJS-protocol server on a loopback port.
func startSignal(t testing.TB) string { return signaltest.Start(t, server.Config{}) }

// recorder collects a member's events.
type recorder struct {
	mu     sync.Mutex
	events []Event
	wake   chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (rec *recorder) on(e Event) {
	rec.mu.Lock()
	rec.events = append(rec.events, e)
	rec.mu.Unlock()
	select {
	case rec.wake <- struct{}{}:
	default:
	}
}

// waitFor blocks until some recorded event satisfies ok.
func (rec *recorder) waitFor(t testing.TB, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		rec.mu.Lock()
		for _, e := range rec.events {
			if ok(e) {
				rec.mu.Unlock()
				return e
			}
		}
		rec.mu.Unlock()
		select {
		case <-rec.wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (rec *recorder) versions() []uint64 {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var v []uint64
	for _, e := range rec.events {
		if e.Type == EventStateUpdate {
			v = append(v, e.Version)
		}
	}
	return v
}

type member struct {
	*Room
	rec *recorder
}

func testOptions(url string, rec *recorder) Options {
	opts := Options{
		SignalURL: url, AppID: "test", LoopbackOnly: true,
		TickInterval: 20 * time.Millisecond, PeerTimeout: 3 * time.Second, OnEvent: rec.on,
	}
	if os.Getenv("ROOMS_DEBUG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return opts
}

func createMember(t testing.TB, url, name, roomID string, initial string) *member {
	t.Helper()
	return createWith(t, url, name, roomID, initial, nil)
}

// createWith is createMember with the tests' options changed by tweak (if
// not nil) first.
func createWith(t testing.TB, url, name, roomID string, initial string, tweak func(*Options)) *member {
	t.Helper()
	rec := newRecorder()
	opts := testOptions(url, rec)
	if tweak != nil {
		tweak(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r, err := Create(ctx, name, roomID, json.RawMessage(initial), opts)
	if err != nil {
		t.Fatalf("create %s as %s: %v", roomID, name, err)
	}
	t.Cleanup(func() { r.shutdown(nil) })
	return &member{r, rec}
}

func joinMember(t testing.TB, url, name, roomID string) *member {
	t.Helper()
	return joinWith(t, url, name, roomID, nil)
}

// joinWith is joinMember with the tests' options changed by tweak (if not
// nil) first.
func joinWith(t testing.TB, url, name, roomID string, tweak func(*Options)) *member {
	t.Helper()
	rec := newRecorder()
	opts := testOptions(url, rec)
	if tweak != nil {
		tweak(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r, err := Join(ctx, name, roomID, opts)
	if err != nil {
		t.Fatalf("join %s as %s: %v", roomID, name, err)
	}
	t.Cleanup(func() { r.shutdown(nil) })
	return &member{r, rec}
}

func patch(t testing.TB, ops string) state.Patch {
	t.Helper()
	p, err := state.ParsePatch([]byte(ops))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// converge waits until every member's linearizable read equals want.
func converge(t testing.TB, want string, members ...*member) {
	t.Helper()
	for _, m := range members {
		got, err := m.Read(ctxT(t))
		if err != nil {
			t.Fatalf("%s: read: %v", m.Self(), err)
		}
		if !jsonEqual(got, []byte(want)) {
			t.Fatalf("%s reads %s, want %s", m.Self(), got, want)
		}
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func TestRoomFormsAndConverges(t *testing.T) {
	url := startSignal(t)
	for _, size := range []int{2, 3, 5} {
		t.Run(fmt.Sprintf("members=%d", size), func(t *testing.T) {
			roomID := fmt.Sprintf("converge-%d", size)
			members := []*member{createMember(t, url, "m0", roomID, `{"count":0,"log":[]}`)}
			for i := 1; i < size; i++ {
				members = append(members, joinMember(t, url, fmt.Sprintf("m%d", i), roomID))
			}
			for i, m := range members {
				if _, err := m.Update(ctxT(t), patch(t, fmt.Sprintf(`[{"op":"add","path":"/log/-","value":"m%d"}]`, i))); err != nil {
					t.Fatalf("update from %s: %v", m.Self(), err)
				}
			}
			want, err := members[size-1].Read(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			converge(t, string(want), members...)
			for _, m := range members {
				if got := len(m.Peers()); got != size {
					t.Errorf("%s sees %d members, want %d: %+v", m.Self(), got, size, m.Peers())
				}
				if m.Doorman() != "m0" {
					t.Errorf("%s sees doorman %q, want m0", m.Self(), m.Doorman())
				}
			}
		})
	}
}

func TestConditionalUpdatesExactlyOneWins(t *testing.T) {
	url := startSignal(t)
	members := []*member{createMember(t, url, "a", "seat", `{"seat":null}`)}
	for _, name := range []string{"b", "c"} {
		members = append(members, joinMember(t, url, name, "seat"))
	}
	var wg sync.WaitGroup
	results := make([]error, len(members))
	for i, m := range members {
		wg.Go(func() {
			_, results[i] = m.Update(ctxT(t), patch(t, fmt.Sprintf(`[{"op":"test","path":"/seat","value":null},{"op":"replace","path":"/seat","value":%q}]`, m.Self())))
		})
	}
	wg.Wait()
	winners := 0
	winner := ""
	for i, err := range results {
		switch {
		case err == nil:
			winners++
			winner = members[i].Self()
		case !errors.Is(err, state.ErrConflict):
			t.Fatalf("%s: %v, want nil or a conflict", members[i].Self(), err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d winners, want exactly 1 (%v)", winners, results)
	}
	converge(t, fmt.Sprintf(`{"seat":%q}`, winner), members...)
}

func TestCreateExistingRoomFails(t *testing.T) {
	url := startSignal(t)
	createMember(t, url, "a", "taken", `{}`)
	_, err := Create(ctxT(t), "b", "taken", nil, testOptions(url, newRecorder()))
	if !errors.Is(err, ErrRoomExists) {
		t.Fatalf("err = %v, want ErrRoomExists", err)
	}
}

func TestJoinMissingRoomFails(t *testing.T) {
	// The server answers a knock on an id nobody holds with EXPIRE after
	// ExpireTimeout (5 s by default, as npm peer).
	url := signaltest.Start(t, server.Config{ExpireTimeout: 200 * time.Millisecond})
	_, err := Join(ctxT(t), "b", "nowhere", testOptions(url, newRecorder()))
	if !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("err = %v, want ErrRoomNotFound", err)
	}
}

func TestDoormanRefusesWithReason(t *testing.T) {
	url := startSignal(t)
	createWith(t, url, "alice", "guarded", "", func(o *Options) {
		o.Admit = func(k Knock) error {
			if k.Participant == "mallory" {
				return errors.New("no mallories")
			}
			return nil
		}
	})
	_, err := Join(ctxT(t), "mallory", "guarded", testOptions(url, newRecorder()))
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Reason != "no mallories" || !errors.Is(err, ErrRefused) {
		t.Fatalf("mallory: err = %v, want a refusal saying why", err)
	}
	_, err = Join(ctxT(t), "alice", "guarded", testOptions(url, newRecorder()))
	if !errors.As(err, &refused) {
		t.Fatalf("duplicate participant: err = %v, want a refusal", err)
	}
	joinMember(t, url, "bob", "guarded")
}

func forgedHeartbeat(t testing.TB, from, to, term uint64) []byte {
	t.Helper()
	b, err := proto.Marshal(&pb.Message{Type: pb.MsgHeartbeat.Enum(), From: &from, To: &to, Term: &term})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
