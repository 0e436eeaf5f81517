package room

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/pkg/mesh"
	"github.com/rooms-dev/rooms/pkg/raftnode"
	"github.com/rooms-dev/rooms/pkg/state"
)

// applyLog records what a member's state machine applied, for comparing
// members entry by entry.
type applyLog struct {
	mu      sync.Mutex
	applied []state.Applied
	wake    chan struct{}
}

func watchApplies(m *member) *applyLog {
	l := &applyLog{wake: make(chan struct{}, 1)}
	m.app.OnApply(func(a state.Applied) {
		l.mu.Lock()
		l.applied = append(l.applied, a)
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
	})
	return l
}

// await returns the first applied change from proposer with seq.
func (l *applyLog) await(t testing.TB, proposer string, seq uint64) state.Applied {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		l.mu.Lock()
		for _, a := range l.applied {
			if a.Change.Proposer == proposer && a.Change.Seq == seq {
				l.mu.Unlock()
				return a
			}
		}
		l.mu.Unlock()
		select {
		case <-l.wake:
		case <-deadline:
			t.Fatalf("change %s#%d never applied", proposer, seq)
		}
	}
}

func raftIDOf(m *member) string { return strconv.FormatUint(m.self.Load(), 10) }

// threeMembers forms a room of a (doorman), b and c, watching their applies.
func threeMembers(t *testing.T, roomID string) ([]*member, []*applyLog) {
	t.Helper()
	url := startSignal(t)
	ms := []*member{createMember(t, url, "a", roomID, `{"n":0}`), joinMember(t, url, "b", roomID), joinMember(t, url, "c", roomID)}
	var logs []*applyLog
	for _, m := range ms {
		logs = append(logs, watchApplies(m))
	}
	return ms, logs
}

// proposeRaw proposes entry bytes through m's raft node, as a hostile
// member that bypasses its own proposer would.
func proposeRaw(t *testing.T, m *member, data []byte) state.Result {
	t.Helper()
	v, err := m.node.Load().Propose(ctxT(t), data)
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	res, ok := v.(state.Result)
	if !ok {
		t.Fatalf("propose: result %T", v)
	}
	return res
}

func encodeChange(t *testing.T, c state.Change) []byte {
	t.Helper()
	b, err := state.EncodeChange(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signAs signs c with key for roomID, as a member's proposer does.
func signAs(t *testing.T, key ed25519.PrivateKey, roomID string, c state.Change) state.Change {
	t.Helper()
	body, err := c.SignedBytes()
	if err != nil {
		t.Fatal(err)
	}
	c.Signature = ed25519.Sign(key, changeMessage(roomID, c.Proposer, body))
	return c
}

// sameEverywhere checks that every member applied proposer#seq with the same
// result and holds the same document.
func sameEverywhere(t *testing.T, ms []*member, logs []*applyLog, proposer string, seq uint64) state.Applied {
	t.Helper()
	first := logs[0].await(t, proposer, seq)
	for i, l := range logs[1:] {
		a := l.await(t, proposer, seq)
		if fmt.Sprint(a.Result) != fmt.Sprint(first.Result) || a.Changed != first.Changed || a.Index != first.Index {
			t.Fatalf("%s applied %s#%d as %+v at %d; %s as %+v at %d", ms[i+1].Self(), proposer, seq, a.Result, a.Index, ms[0].Self(), first.Result, first.Index)
		}
	}
	docs := map[string]bool{}
	for _, m := range ms {
		if _, err := m.Read(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		doc, _ := m.State()
		docs[fmt.Sprintf("v%d %s", m.Version(), doc)] = true
	}
	if len(docs) != 1 {
		t.Fatalf("members hold different states: %v", docs)
	}
	return first
}

func TestPeersShowKeyFingerprints(t *testing.T) {
	url := startSignal(t)
	_, pinned, _ := ed25519.GenerateKey(crand.Reader)
	a := createWith(t, url, "a", "keys", "", func(o *Options) { o.Identity = pinned })
	b := joinMember(t, url, "b", "keys")
	c := joinMember(t, url, "c", "keys")
	want := map[string]string{"a": keyFingerprint(pinned.Public().(ed25519.PublicKey)), "b": keyFingerprint(b.publicKey()), "c": keyFingerprint(c.publicKey())}
	if want["b"] == want["c"] || len(want["a"]) != keyFingerprintLen {
		t.Fatalf("fingerprints %v", want)
	}
	for _, r := range []*Room{a.Room, b.Room, c.Room} {
		if _, err := r.Read(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		r.settle()
		for _, p := range r.Peers() {
			if p.Key != want[p.Participant] {
				t.Errorf("%s sees %s with key %q, want %q", r.Self(), p.Participant, p.Key, want[p.Participant])
			}
		}
	}
}

func TestBadIdentityOption(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(crand.Reader)
	mismatched := append(ed25519.PrivateKey(nil), key...)
	mismatched[ed25519.SeedSize] ^= 1 // the public half no longer matches
	for name, id := range map[string]ed25519.PrivateKey{"short": key[:10], "mismatched": mismatched} {
		opts := Options{SignalURL: "http://127.0.0.1:1/", Identity: id}
		if _, err := Create(context.Background(), "a", "r", nil, opts); err == nil || !strings.Contains(err.Error(), "identity") {
			t.Errorf("%s: Create = %v, want an identity error", name, err)
		}
		if _, err := Join(context.Background(), "a", "r", opts); err == nil || !strings.Contains(err.Error(), "identity") {
			t.Errorf("%s: Join = %v, want an identity error", name, err)
		}
	}
}

// TestForgedChangesRejectedEverywhere: b is hostile and proposes changes
// through its own raft node: one in a's name signed with b's key, one with
// a key b never registered, one unsigned, one signed for another room. Every
// member rejects each with the same ErrBadSignature result and the state
// does not change; a's own next change still applies (the forgery used up
// none of a's sequence numbers).
func TestForgedChangesRejectedEverywhere(t *testing.T) {
	ms, logs := threeMembers(t, "forged")
	a, b := ms[0], ms[1]
	if _, err := a.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatalf("a's signed update: %v", err)
	}
	if _, err := b.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":2}]`)); err != nil {
		t.Fatalf("b's signed update: %v", err)
	}
	sameEverywhere(t, ms, logs, raftIDOf(b), 1)
	_, stranger, _ := ed25519.GenerateKey(crand.Reader)
	notKeyOf := func(m *member) string { return fmt.Sprintf("does not match member %s's key", raftIDOf(m)) }
	steal := state.Patch{{Op: state.OpReplace, Path: "/n", Value: []byte(`666`)}}
	forgeries := []struct {
		name   string
		change state.Change
		text   string
	}{
		{"in a's name with b's key", signAs(t, b.identity, "forged", state.Change{Proposer: raftIDOf(a), Seq: 2, Patch: steal}), notKeyOf(a)},
		{"in a's name, far ahead", signAs(t, b.identity, "forged", state.Change{Proposer: raftIDOf(a), Seq: 1 << 40, Patch: steal}), notKeyOf(a)},
		{"with an unregistered key", signAs(t, stranger, "forged", state.Change{Proposer: raftIDOf(b), Seq: 100, Patch: steal}), notKeyOf(b)},
		{"unsigned", state.Change{Proposer: raftIDOf(b), Seq: 101, Patch: steal}, "unsigned change (format 1); this room requires signed changes"},
		{"signed for another room", signAs(t, b.identity, "elsewhere", state.Change{Proposer: raftIDOf(b), Seq: 102, Patch: steal}), notKeyOf(b)},
		{"by a non-member", signAs(t, b.identity, "forged", state.Change{Proposer: "99", Seq: 1, Patch: steal}), "member 99 has no registered key"},
	}
	version := a.Version()
	for _, f := range forgeries {
		t.Run(f.name, func(t *testing.T) {
			res := proposeRaw(t, b, encodeChange(t, f.change))
			if !errors.Is(res.Err, state.ErrBadSignature) || !strings.Contains(res.Err.Error(), f.text) {
				t.Fatalf("result %v, want ErrBadSignature saying %q", res.Err, f.text)
			}
			applied := sameEverywhere(t, ms, logs, f.change.Proposer, f.change.Seq)
			if applied.Changed || applied.Result.Version != version {
				t.Fatalf("forged change applied: %+v", applied)
			}
		})
	}
	if got, err := a.Get("/n"); err != nil || string(got) != "2" {
		t.Fatalf("/n = %s (%v), want 2", got, err)
	}
	if _, err := a.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":3}]`)); err != nil {
		t.Fatalf("a's next update after the forgeries: %v", err)
	}
	sameEverywhere(t, ms, logs, raftIDOf(a), 2)
}

// TestReplayedChangeRefused: c replays a's signed changes, bytes as they
// were committed. The exactly-once table answers: the latest is a duplicate
// (its first result again), an older one is stale; neither applies again,
// on any member.
func TestReplayedChangeRefused(t *testing.T) {
	ms, logs := threeMembers(t, "replay")
	a, c := ms[0], ms[2]
	for _, n := range []int{1, 2} {
		if _, err := a.Update(ctxT(t), patch(t, fmt.Sprintf(`[{"op":"add","path":"/log%d","value":%d}]`, n, n))); err != nil {
			t.Fatal(err)
		}
	}
	first := logs[2].await(t, raftIDOf(a), 1)
	second := logs[2].await(t, raftIDOf(a), 2)
	if len(first.Change.Signature) != ed25519.SignatureSize {
		t.Fatalf("a's change carries a signature of %d bytes", len(first.Change.Signature))
	}
	version := a.Version()
	for _, tc := range []struct {
		name   string
		change state.Change
		want   error
	}{
		{"the latest", second.Change, nil},
		{"an older one", first.Change, state.ErrStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := proposeRaw(t, c, encodeChange(t, tc.change))
			switch {
			case tc.want == nil && (res.Err != nil || res.Version != second.Result.Version):
				t.Fatalf("replay answered %+v, want the first answer %+v", res, second.Result)
			case tc.want != nil && !errors.Is(res.Err, tc.want):
				t.Fatalf("replay answered %v, want %v", res.Err, tc.want)
			}
			if errors.Is(res.Err, state.ErrBadSignature) {
				t.Fatalf("the replayed bytes no longer verify: %v", res.Err)
			}
		})
	}
	for i, m := range ms {
		if _, err := m.Read(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if m.Version() != version {
			t.Fatalf("%s at version %d after the replays, want %d", m.Self(), m.Version(), version)
		}
		logs[i].mu.Lock()
		applied := 0
		for _, a := range logs[i].applied {
			if a.Changed && a.Change.Proposer == raftIDOf(ms[0]) {
				applied++
			}
		}
		logs[i].mu.Unlock()
		if applied != 2 {
			t.Fatalf("%s applied a's changes %d times, want 2", m.Self(), applied)
		}
	}
}

// logWatch is a slog handler that reports records whose message contains
// a given text.
type logWatch struct {
	text string
	hits chan slog.Record
}

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, w.text) {
		select {
		case w.hits <- r.Clone():
		default:
		}
	}
	return nil
}
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *logWatch) WithGroup(string) slog.Handler      { return w }

// blamed waits for the next watched record and returns its "peer"
// attribute: the member the log line blames. It fails t with never when no
// record comes.
func (w *logWatch) blamed(t *testing.T, never string) string {
	t.Helper()
	select {
	case rec := <-w.hits:
		var peer string
		rec.Attrs(func(at slog.Attr) bool {
			if at.Key == "peer" {
				peer = at.Value.String()
			}
			return true
		})
		return peer
	case <-time.After(testTimeout):
		t.Fatal(never)
		return ""
	}
}

// TestTamperedRelayedSignalDropped: the doorman a relays the signalling
// between b and c and changes the DTLS fingerprint in it, as a doorman that
// wants to sit in the middle of their connection would. c drops the signal
// (the signature no longer matches b's key), logs it and counts it against
// a, and no connection between b and c is made; the room still works.
func TestTamperedRelayedSignalDropped(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "tamper", `{"n":0}`)
	b := joinMember(t, url, "b", "tamper")
	tampered := make(chan struct{}, 16)
	tamper := func(rf *relayFrame) {
		if rf.Signal.SDP == "" {
			return
		}
		rf.Signal.SDP = strings.Replace(rf.Signal.SDP, "a=fingerprint:sha-256 ", "a=fingerprint:sha-256 00:", 1)
		select {
		case tampered <- struct{}{}:
		default:
		}
	}
	a.hooks.tamperRelay.Store(&tamper)
	watch := &logWatch{text: "relayed signal with a bad signature", hits: make(chan slog.Record, 16)}
	opts := testOptions(url, newRecorder())
	opts.Logger = slog.New(watch)
	c, err := Join(ctxT(t), "c", "tamper", opts)
	if err != nil {
		t.Fatalf("c joins (through the doorman alone): %v", err)
	}
	t.Cleanup(func() { c.shutdown(nil) })
	select {
	case <-tampered:
	case <-time.After(testTimeout):
		t.Fatal("the doorman never relayed a signal between b and c")
	}
	if peer := watch.blamed(t, "c never dropped the tampered signal"); peer != raftIDOf(a) {
		t.Fatalf("c blamed member %s for the tampered signal, want the relay %s", peer, raftIDOf(a))
	}
	c.mu.Lock()
	strikes := c.strikes[a.self.Load()]
	p := c.peers[b.self.Load()]
	c.mu.Unlock()
	if strikes == 0 {
		t.Fatal("the tampered signal was not counted against the relay")
	}
	if p != nil && p.conn.State() == mesh.StateConnected {
		t.Fatal("c connected to b with a tampered offer")
	}
	if _, err := b.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":1}`, a, b, &member{c, nil})
}

func TestKnockIdentity(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(crand.Reader)
	r := &Room{roomID: "door", identity: key}
	const offer = "v=0\r\na=fingerprint:sha-256 AB:CD\r\n"
	good := knockPayload{Knock: r.signKnock(Knock{Version: protocolVersion, Participant: "nina"}, offer), Signal: mesh.Signal{Kind: mesh.SignalOffer, SDP: offer}}
	if reason := r.knockIdentityRefusal(good); reason != "" {
		t.Fatalf("a well-signed knock refused: %s", reason)
	}
	for name, edit := range map[string]func(*knockPayload){
		"no key":              func(kp *knockPayload) { kp.Knock.Key = nil },
		"no proof":            func(kp *knockPayload) { kp.Knock.KeyProof = nil },
		"another offer":       func(kp *knockPayload) { kp.Signal.SDP = "v=0\r\na=fingerprint:sha-256 EE:FF\r\n" },
		"another participant": func(kp *knockPayload) { kp.Knock.Participant = "mallory" },
		"another's key": func(kp *knockPayload) {
			other, _, _ := ed25519.GenerateKey(crand.Reader)
			kp.Knock.Key = other
		},
	} {
		kp := good
		edit(&kp)
		if reason := r.knockIdentityRefusal(kp); reason == "" {
			t.Errorf("%s: knock admitted", name)
		}
	}
	other := &Room{roomID: "elsewhere", identity: key}
	if reason := other.knockIdentityRefusal(good); reason == "" {
		t.Error("a knock signed for another room was admitted")
	}
}

func TestSignalSignature(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(crand.Reader)
	sender := &Room{roomID: "sig", identity: key}
	app, _ := state.New(nil)
	receiver := &Room{roomID: "sig", sm: newMachine(roomMeta{RoomID: "sig"}, app), stop: make(chan struct{})}
	receiver.sm.ApplyMembership(5, nil)
	rf := sender.signSignal(relayFrame{From: 1, To: 2, Session: "s1", Signal: mesh.Signal{Kind: mesh.SignalOffer, SDP: "a=fingerprint:sha-256 AB\r\n"}})
	if err := receiver.checkSignal(rf, 0); !errors.Is(err, errUnknownSender) {
		t.Fatalf("signal from an unknown member: %v, want errUnknownSender", err)
	}
	receiver.sm.ApplyMembership(6, []raftnode.Member{{ID: 1, Context: memberContext(t, key.Public().(ed25519.PublicKey))}})
	if err := receiver.checkSignal(rf, 0); err != nil {
		t.Fatalf("good signal: %v", err)
	}
	for name, edit := range map[string]func(*relayFrame){
		"unsigned":           func(rf *relayFrame) { rf.Sig = nil },
		"other fingerprint":  func(rf *relayFrame) { rf.Signal.SDP = "a=fingerprint:sha-256 CD\r\n" },
		"other session":      func(rf *relayFrame) { rf.Session = "s2" },
		"other recipient":    func(rf *relayFrame) { rf.To = 3 },
		"an answer instead":  func(rf *relayFrame) { rf.Signal.Kind = mesh.SignalAnswer },
		"claims another one": func(rf *relayFrame) { rf.From = 4 },
	} {
		bad := rf
		edit(&bad)
		if err := receiver.checkSignal(bad, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func memberContext(t *testing.T, key ed25519.PublicKey) []byte {
	t.Helper()
	b, err := json.Marshal(memberInfo{Participant: "p", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRelayRefusesBadlySignedSignal: a member hands the doorman a signal for
// another member with a signature that does not match: the doorman does not
// forward it and counts it against the sender, the member it came from.
func TestRelayRefusesBadlySignedSignal(t *testing.T) {
	url := startSignal(t)
	watch := &logWatch{text: "signal to relay with a bad signature", hits: make(chan slog.Record, 4)}
	a := createWith(t, url, "a", "relay-check", "", func(o *Options) { o.Logger = slog.New(watch) })
	b := joinMember(t, url, "b", "relay-check")
	c := joinMember(t, url, "c", "relay-check")
	rf := b.signSignal(relayFrame{From: b.self.Load(), To: c.self.Load(), Session: "s", Signal: mesh.Signal{Kind: mesh.SignalOffer, SDP: "a=fingerprint:sha-256 AB\r\n"}})
	rf.Signal.SDP = "a=fingerprint:sha-256 CD\r\n" // b's own signature no longer matches
	b.mu.Lock()
	toDoorman := b.peers[a.self.Load()]
	b.mu.Unlock()
	if err := sendJSON(toDoorman.conn, frameRelay, rf); err != nil {
		t.Fatal(err)
	}
	if peer := watch.blamed(t, "the doorman relayed a badly signed signal without a word"); peer != raftIDOf(b) {
		t.Fatalf("the doorman blamed member %s, want the sender %s", peer, raftIDOf(b))
	}
}

// A newcomer takes only an answer to its own knock: an old sealed answer
// replayed by the signalling server names another session.
func TestAnswerBelongsToTheKnock(t *testing.T) {
	admitted := answerPayload{Admitted: &admission{RaftID: 2, DoormanID: 1}, Session: "s1"}
	for _, c := range []struct {
		name    string
		ans     answerPayload
		session string
		want    bool
	}{
		{"this knock's admission", admitted, "s1", true},
		{"another knock's admission", admitted, "s2", false},
		{"an admission without a session", answerPayload{Admitted: admitted.Admitted}, "s1", false},
		{"another knock's refusal", answerPayload{Refused: "no", Session: "s2"}, "s1", false},
		{"a refusal of an unreadable knock", answerPayload{Refused: "wrong password"}, "s1", true},
	} {
		if got := answersKnock(c.ans, c.session); got != c.want {
			t.Errorf("%s: answersKnock = %v, want %v", c.name, got, c.want)
		}
	}
}

// A newcomer checks the doorman's signature on its admission against the
// key the room registered for the doorman: an answer made by anyone else
// (the signalling server answering in the doorman's place) is found out.
func TestAdmissionSignedByTheDoorman(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "answer", `{"n":0}`)
	b := joinMember(t, url, "b", "answer")
	ans := answerPayload{
		Admitted: &admission{RaftID: b.self.Load(), DoormanID: a.self.Load()},
		Session:  "0123456789abcdef",
		Signal:   mesh.Signal{Kind: "answer", SDP: "v=0\r\na=fingerprint:sha-256 AA:BB\r\n"},
	}
	if err := b.checkAnswer(ctxT(t), a.signAnswer(ans)); err != nil {
		t.Fatalf("the doorman's own answer: %v", err)
	}
	_, stranger, _ := ed25519.GenerateKey(nil)
	forged := ans
	forged.Proof = ed25519.Sign(stranger, answerMessage("answer", ans))
	tampered := a.signAnswer(ans)
	tampered.Signal.SDP = "v=0\r\na=fingerprint:sha-256 CC:DD\r\n"
	for name, bad := range map[string]answerPayload{"unsigned": ans, "signed by a stranger": forged, "another offer": tampered} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := b.checkAnswer(ctx, bad)
		cancel()
		if !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v, want ErrBadMessage", name, err)
		}
	}
}
