package room

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/internal/testenv"
	"github.com/rooms-dev/rooms/pkg/mesh"
	"github.com/rooms-dev/rooms/pkg/signal"
)

const testPassword = "correct horse battery staple"

// openMember creates (initial != "") or joins roomID with password, and
// returns the member or the error. tweak, if not nil, adjusts the options.
func openMember(t testing.TB, url, name, roomID, password, initial string, tweak func(*Options)) (*member, error) {
	t.Helper()
	rec := newRecorder()
	opts := testOptions(url, rec)
	opts.Password = password
	if tweak != nil {
		tweak(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var r *Room
	var err error
	if initial != "" {
		r, err = Create(ctx, name, roomID, json.RawMessage(initial), opts)
	} else {
		r, err = Join(ctx, name, roomID, opts)
	}
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { r.shutdown(nil) })
	return &member{r, rec}, nil
}

func mustOpen(t testing.TB, url, name, roomID, password, initial string) *member {
	t.Helper()
	m, err := openMember(t, url, name, roomID, password, initial, nil)
	if err != nil {
		t.Fatalf("%s in %s: %v", name, roomID, err)
	}
	return m
}

// wantPasswordRefusal checks a Join error is the doorman's password
// refusal with reason.
func wantPasswordRefusal(t testing.TB, err error, reason string) {
	t.Helper()
	var refused *RefusedError
	if !errors.Is(err, ErrWrongPassword) || !errors.Is(err, ErrRefused) || !errors.As(err, &refused) || refused.Reason != reason {
		t.Fatalf("join: %v; want a refusal for %q matching ErrWrongPassword", err, reason)
	}
}

func TestPasswordRoomAdmitsAndReplicates(t *testing.T) {
	url := startSignal(t)
	a := mustOpen(t, url, "a", "secret", testPassword, `{"n":0}`)
	b := mustOpen(t, url, "b", "secret", testPassword, "")
	c := mustOpen(t, url, "c", "secret", testPassword, "")
	if _, err := c.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":1}`, a, b, c)
}

func TestWrongPasswordIsRefused(t *testing.T) {
	url := startSignal(t)
	logs := &testenv.LogBuffer{}
	a, err := openMember(t, url, "a", "guarded", testPassword, `{"n":0}`, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = openMember(t, url, "mallory", "guarded", "Tr0ub4dor&3", "", nil)
	wantPasswordRefusal(t, err, reasonWrongPassword)
	if !strings.Contains(logs.String(), "reason=\"wrong password\"") {
		t.Errorf("the doorman logged no refusal for the wrong password; logs:\n%s", logs)
	}
	// The room is untouched: the right password still gets in.
	b := mustOpen(t, url, "b", "guarded", testPassword, "")
	if _, err := b.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":1}`, a, b)
	if got := len(a.Peers()); got != 2 {
		t.Fatalf("the room has %d members, want 2 (a refused newcomer got in?)", got)
	}
}

func TestPasswordMismatchIsRefused(t *testing.T) {
	url := startSignal(t)
	mustOpen(t, url, "a", "open", "", `{}`)
	_, err := openMember(t, url, "b", "open", testPassword, "", nil)
	wantPasswordRefusal(t, err, reasonNoPassword)

	mustOpen(t, url, "c", "closed", testPassword, `{}`)
	_, err = openMember(t, url, "d", "closed", "", "", nil)
	wantPasswordRefusal(t, err, reasonNeedsPassword)
}

// tap is a TCP proxy in front of the signalling server that records what
// the server sends its clients: every relayed knock and answer passes
// there, unmasked (RFC 6455 masks client frames only).
type tap struct {
	testenv.LogBuffer
	ln net.Listener
}

func startTap(t testing.TB, serverURL string) (url string, tp *tap) {
	t.Helper()
	target := strings.TrimSuffix(strings.TrimPrefix(serverURL, "http://"), "/")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp = &tap{ln: ln}
	var (
		mu    sync.Mutex
		open  []net.Conn
		pipes sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		pipes.Wait()
	})
	pipes.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			mu.Lock()
			open = append(open, client, server)
			mu.Unlock()
			pipes.Go(func() { io.Copy(server, client); server.Close() })
			pipes.Go(func() { io.Copy(io.MultiWriter(client, tp), server); client.Close() })
		}
	})
	return "http://" + ln.Addr().String() + "/", tp
}

// The signalling server relays knocks and answers; in a room with a
// password it sees no SDP and no participant id. Without one it does,
// which shows the tap sees what it should.
func TestPasswordHidesSignalling(t *testing.T) {
	for _, tc := range []struct {
		password string
		visible  bool
	}{{"", true}, {testPassword, false}} {
		url, tp := startTap(t, startSignal(t))
		room := fmt.Sprintf("tapped-%v", tc.visible)
		mustOpen(t, url, "alice-participant", room, tc.password, `{}`)
		mustOpen(t, url, "bob-participant", room, tc.password, "")
		seen := tp.String()
		if !strings.Contains(seen, `"ANSWER"`) {
			t.Fatalf("the tap saw no relayed answer: %q", seen)
		}
		// The newcomer's knock names it and carries its offer; the answer
		// carries the doorman's SDP. The doorman's name travels in neither.
		for _, secret := range []string{"v=0", "a=fingerprint", "bob-participant", `"knock"`, `"admitted"`} {
			if strings.Contains(seen, secret) != tc.visible {
				t.Errorf("password %q: %q visible to the signalling server: %v, want %v", tc.password, secret, !tc.visible, tc.visible)
			}
		}
	}
}

// Knocks that do not open with the room key are refused with a reason
// (never a crash), and the room goes on admitting the real password.
func TestForgedKnocksAreRefused(t *testing.T) {
	url := startSignal(t)
	a := mustOpen(t, url, "a", "forged", testPassword, `{"n":0}`)
	roomSignal := signalID("test", "forged")
	knock := knockPayload{Knock: Knock{Version: protocolVersion, Participant: "mallory"}, Session: "s", Signal: mesh.Signal{Kind: mesh.SignalOffer, SDP: "v=0"}}
	otherKey := deriveRoomKey("guess", "test", "forged")
	sealedWrong, _ := otherKey.seal(signal.TypeOffer, roomSignal, knock)
	// The right key, but sealed as an answer: the additional data differs.
	sealedAsAnswer, _ := a.key.seal(signal.TypeAnswer, roomSignal, knock)
	sealedElsewhere, _ := a.key.seal(signal.TypeOffer, signalID("test", "other"), knock)
	garbage, _ := json.Marshal(sealedPayload{Sealed: bytes.Repeat([]byte{1}, 80)})
	for _, tc := range []struct {
		name, payload, reason string
	}{
		{"another password", string(sealedWrong), reasonWrongPassword},
		{"sealed as an answer", string(sealedAsAnswer), reasonWrongPassword},
		{"sealed for another room", string(sealedElsewhere), reasonWrongPassword},
		{"random bytes", string(garbage), reasonWrongPassword},
		{"too short", `{"sealed":"AQI="}`, reasonWrongPassword},
		{"empty", `{"sealed":""}`, reasonWrongPassword},
		{"not base64", `{"sealed":"%%%"}`, "malformed knock"},
		{"not an object", `"sealed"`, "malformed knock"},
		{"plaintext knock", mustJSON(t, knock), reasonNeedsPassword},
	} {
		if got := rawKnock(t, url, roomSignal, tc.payload); got.Refused != tc.reason || got.Admitted != nil {
			t.Errorf("%s: answer %+v, want refused for %q", tc.name, got, tc.reason)
		}
	}
	b := mustOpen(t, url, "b", "forged", testPassword, "")
	if _, err := b.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":1}`, a, b)
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawKnock sends payload to the room id as an OFFER and returns the
// doorman's (plaintext) answer.
func rawKnock(t testing.TB, url, roomSignal, payload string) answerPayload {
	t.Helper()
	ctx := ctxT(t)
	c, err := signal.Dial(ctx, signal.ClientConfig{URL: url, Key: "peerjs"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(ctx, signal.Message{Type: signal.TypeOffer, Dst: roomSignal, Payload: json.RawMessage(payload)}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case msg, ok := <-c.Messages():
			if !ok {
				t.Fatalf("signalling closed: %v", c.Err())
			}
			if msg.Type != signal.TypeAnswer {
				continue
			}
			var ans answerPayload
			if err := json.Unmarshal(msg.Payload, &ans); err != nil {
				t.Fatalf("answer %s: %v", msg.Payload, err)
			}
			return ans
		case <-ctx.Done():
			t.Fatal("no answer to the knock")
		}
	}
}

func TestPasswordFailoverNewDoormanAdmits(t *testing.T) {
	url := startSignal(t)
	a := mustOpen(t, url, "a", "pw-failover", testPassword, `{"n":0}`)
	b := mustOpen(t, url, "b", "pw-failover", testPassword, "")
	c := mustOpen(t, url, "c", "pw-failover", testPassword, "")
	a.shutdown(errors.New("crashed"))
	e := b.rec.waitFor(t, "a new doorman", func(e Event) bool {
		return e.Type == EventDoormanChange && (e.Doorman == "b" || e.Doorman == "c")
	})
	t.Logf("new doorman: %s", e.Doorman)
	_, err := openMember(t, url, "mallory", "pw-failover", "wrong", "", nil)
	wantPasswordRefusal(t, err, reasonWrongPassword)
	d := mustOpen(t, url, "d", "pw-failover", testPassword, "")
	if _, err := d.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":2}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":2}`, b, c, d)
}

// A room of two with a password loses its quorum when the doorman
// vanishes: the survivor's sealed knock finds nobody, it re-forms the room,
// and the re-formed room still checks the password.
func TestPasswordRoomRecovers(t *testing.T) {
	url := startSignal(t)
	fastRecovery := func(o *Options) { o.RecoveryTimeout = time.Second }
	open := func(name, password, initial string) (*member, error) {
		return openMember(t, url, name, "pw-recovery", password, initial, fastRecovery)
	}
	a, err := open("a", testPassword, `{"n":1}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := open("b", testPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	a.shutdown(errors.New("crashed"))
	b.rec.waitFor(t, "re-formation", func(e Event) bool { return e.Type == EventRecovered && e.Epoch == 1 })
	_, err = open("mallory", "wrong", "")
	wantPasswordRefusal(t, err, reasonWrongPassword)
	c, err := open("c", testPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":2}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":2}`, b, c)
}

// connectedPair returns two connections to each other, each with its
// admission channel, and the offer and answer SDPs they exchanged.
func connectedPair(t *testing.T) (offerer, answerer *admissionChannel, offerSDP, answerSDP string) {
	t.Helper()
	ctx := ctxT(t)
	offers, answers := make(chan mesh.Signal, 4), make(chan mesh.Signal, 4)
	cfg := mesh.Config{LoopbackOnly: true}
	dialer, err := mesh.New(cfg, "answerer", func(s mesh.Signal) error { offers <- s; return nil })
	if err != nil {
		t.Fatal(err)
	}
	acceptor, err := mesh.New(cfg, "offerer", func(s mesh.Signal) error { answers <- s; return nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialer.Close(); acceptor.Close() })
	if offerer, err = newAdmissionChannel(dialer); err != nil {
		t.Fatal(err)
	}
	if answerer, err = newAdmissionChannel(acceptor); err != nil {
		t.Fatal(err)
	}
	if err := dialer.Dial(ctx); err != nil {
		t.Fatal(err)
	}
	offer := <-offers
	if err := acceptor.Accept(ctx, offer); err != nil {
		t.Fatal(err)
	}
	answer := <-answers
	if err := dialer.HandleSignal(answer); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*mesh.Conn{dialer, acceptor} {
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return offerer, answerer, offer.SDP, answer.SDP
}

// The admission proof: the doorman admits the right key for this very
// connection and raft id, and refuses, with a reason the newcomer gets,
// a proof made with another key, for other fingerprints or another id.
func TestAdmissionChallenge(t *testing.T) {
	key := deriveRoomKey(testPassword, "test", "challenge")
	if key.err != nil {
		t.Fatal(key.err)
	}
	other := deriveRoomKey("other", "test", "challenge")
	// mitm is an SDP whose fingerprint differs from the real answer's.
	const mitm = "v=0\r\na=fingerprint:sha-256 00:11:22\r\n"
	for _, tc := range []struct {
		name       string
		proverKey  *roomKey
		swapAnswer bool
		raftID     uint64
		admitted   bool
	}{
		{"right key", key, false, 7, true},
		{"another key", other, false, 7, false},
		{"another connection's fingerprints", key, true, 7, false},
		{"another raft id", key, false, 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newcomerSide, doormanSide, offerSDP, answerSDP := connectedPair(t)
			if sdpFingerprints(offerSDP) == "" || sdpFingerprints(answerSDP) == "" {
				t.Fatalf("no fingerprints in the SDPs:\n%s\n%s", offerSDP, answerSDP)
			}
			doorman, newcomer := &Room{key: key}, &Room{key: tc.proverKey}
			proverAnswer := answerSDP
			if tc.swapAnswer {
				proverAnswer = mitm
			}
			verdict := make(chan error, 1)
			go func() { verdict <- doorman.challenge(ctxT(t), doormanSide, 7, offerSDP, answerSDP) }()
			proved := newcomer.prove(ctxT(t), newcomerSide, tc.raftID, offerSDP, proverAnswer)
			admitted := <-verdict
			if tc.admitted {
				if proved != nil || admitted != nil {
					t.Fatalf("newcomer: %v, doorman: %v; want admitted", proved, admitted)
				}
				return
			}
			if admitted == nil {
				t.Fatal("the doorman admitted a bad proof")
			}
			wantPasswordRefusal(t, proved, reasonWrongPassword)
		})
	}
}

func TestSealOpensOnlyWithItsKeyAndContext(t *testing.T) {
	key := deriveRoomKey(testPassword, "app", "room")
	sealed, err := key.seal(signal.TypeOffer, "sid", map[string]string{"x": "y"})
	if err != nil {
		t.Fatal(err)
	}
	blob, isSealed, err := splitSealed(sealed)
	if err != nil || !isSealed || blob[0] != sealVersion {
		t.Fatalf("splitSealed: %v %v %v", blob, isSealed, err)
	}
	var got map[string]string
	if err := key.open(signal.TypeOffer, "sid", blob, &got); err != nil || got["x"] != "y" {
		t.Fatalf("open: %v %v", got, err)
	}
	for name, k := range map[string]*roomKey{
		"other app":  deriveRoomKey(testPassword, "app2", "room"),
		"other room": deriveRoomKey(testPassword, "app", "room2"),
		// Without length-prefixing, ("ap", "proom") would salt like ("app", "room").
		"shifted names": deriveRoomKey(testPassword, "ap", "proom"),
	} {
		if err := k.open(signal.TypeOffer, "sid", blob, &got); !errors.Is(err, errUnsealable) {
			t.Errorf("%s opened it: %v", name, err)
		}
	}
	tampered := bytes.Clone(blob)
	tampered[len(tampered)-1] ^= 1
	if err := key.open(signal.TypeOffer, "sid", tampered, &got); !errors.Is(err, errUnsealable) {
		t.Errorf("tampered: %v", err)
	}
	tampered = bytes.Clone(blob)
	tampered[0] = 2
	if err := key.open(signal.TypeOffer, "sid", tampered, &got); !errors.Is(err, errUnsealable) {
		t.Errorf("unknown version: %v", err)
	}
}

// BenchmarkDeriveRoomKey measures the PBKDF2 cost a member pays once.
func BenchmarkDeriveRoomKey(b *testing.B) {
	for b.Loop() {
		deriveRoomKey(testPassword, "app", "room")
	}
}
