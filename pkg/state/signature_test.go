package state

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// signers is a test key table: proposer id → key pair, and a Verifier that
// checks signatures against it the way a room does.
type signers map[string]ed25519.PrivateKey

func newSigners(names ...string) signers {
	s := signers{}
	for i, name := range names {
		seed := bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize)
		s[name] = ed25519.NewKeyFromSeed(seed)
	}
	return s
}

// sign returns c signed with the key of signer (not necessarily c's
// proposer: a forger signs with its own key).
func (s signers) sign(t testing.TB, c Change, signer string) Change {
	t.Helper()
	body, err := c.SignedBytes()
	if err != nil {
		t.Fatalf("SignedBytes: %v", err)
	}
	c.Signature = ed25519.Sign(s[signer], body)
	return c
}

func (s signers) verify(c Change) error {
	key, ok := s[c.Proposer]
	switch {
	case !ok:
		return fmt.Errorf("proposer %s is not a member", c.Proposer)
	case len(c.Signature) == 0:
		return fmt.Errorf("%w: unsigned change", ErrBadSignature)
	}
	body, err := c.SignedBytes()
	if err != nil {
		return err
	}
	if !ed25519.Verify(key.Public().(ed25519.PublicKey), body, c.Signature) {
		return fmt.Errorf("%w: does not match the proposer's key", ErrBadSignature)
	}
	return nil
}

func TestSignedChangeRoundTrip(t *testing.T) {
	keys := newSigners("alice")
	for name, c := range map[string]Change{
		"patch":  {Proposer: "alice", Seq: 3, Patch: patchOf(t, `[{"op":"add","path":"/a","value":{"x":[1, 2]}}]`)},
		"action": {Proposer: "alice", Seq: 4, Action: &Action{Name: "move", Payload: []byte(`{"to":"e4"}`)}},
	} {
		t.Run(name, func(t *testing.T) {
			signed := keys.sign(t, c, "alice")
			data := encode(t, signed)
			if data[0] != signedChangeFormat {
				t.Fatalf("format byte %d, want %d", data[0], signedChangeFormat)
			}
			got, err := DecodeChange(data)
			if err != nil {
				t.Fatalf("DecodeChange: %v", err)
			}
			if !bytes.Equal(got.Signature, signed.Signature) || got.Proposer != c.Proposer || got.Seq != c.Seq {
				t.Fatalf("decoded %+v, want %+v", got, signed)
			}
			unsigned := encode(t, c)
			body, _ := got.SignedBytes()
			if !bytes.Equal(body, unsigned) {
				t.Fatalf("SignedBytes of the decoded change = %q, want the format-1 encoding %q", body, unsigned)
			}
			if err := keys.verify(got); err != nil {
				t.Fatalf("decoded signature does not verify: %v", err)
			}
		})
	}
}

// TestSignedBytesAreTheEntrys: a verifier checks the bytes that were in the
// entry, not a re-encoding, which may differ in insignificant ways.
func TestSignedBytesAreTheEntrys(t *testing.T) {
	body := []byte("\x01" + `{"seq":1,"proposer":"alice","patch":[ {"op":"add","path":"/a","value":1} ]}`)
	sig := bytes.Repeat([]byte{7}, ed25519.SignatureSize)
	data := append(binary.AppendUvarint([]byte{signedChangeFormat}, uint64(len(sig))), sig...)
	data = append(data, body...)
	c, err := DecodeChange(data)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.SignedBytes()
	if !bytes.Equal(got, body) {
		t.Fatalf("SignedBytes = %q, want the entry's %q", got, body)
	}
}

func TestMalformedSignedChanges(t *testing.T) {
	good := encode(t, Change{Proposer: "p", Seq: 1, Patch: Patch{}})
	signed := func(sigLen uint64, sig []byte, body []byte) []byte {
		b := binary.AppendUvarint([]byte{signedChangeFormat}, sigLen)
		return append(append(b, sig...), body...)
	}
	sig := bytes.Repeat([]byte{1}, 64)
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"no length":          {[]byte{signedChangeFormat}, ErrMalformed},
		"zero length":        {signed(0, nil, good), ErrMalformed},
		"length beyond end":  {signed(200, sig, good), ErrMalformed},
		"no body":            {signed(64, sig, nil), ErrMalformed},
		"too long signature": {signed(MaxSignatureLen+1, bytes.Repeat([]byte{1}, MaxSignatureLen+1), good), ErrMalformed},
		"signed batch":       {signed(64, sig, []byte{batchFormat, 1, 1}), ErrVersion},
		"signed signed":      {signed(64, sig, signed(64, sig, good)), ErrVersion},
		"bad body":           {signed(64, sig, []byte("\x01{")), ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeChange(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("DecodeChange = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := EncodeChange(Change{Proposer: "p", Seq: 1, Patch: Patch{}, Signature: make([]byte, MaxSignatureLen+1)}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("EncodeChange with an oversized signature = %v, want ErrMalformed", err)
	}
}

// TestVerifierRejectsIdentically: two members applying the same entries,
// forged ones among them, reach the same document, the same results (error
// text included) and the same snapshot; a forged change neither changes the
// document nor uses up the sequence numbers of the proposer it names.
func TestVerifierRejectsIdentically(t *testing.T) {
	keys := newSigners("alice", "bob")
	add := func(path string, seq uint64) Change {
		return Change{Proposer: "alice", Seq: seq, Patch: patchOf(t, `[{"op":"add","path":"`+path+`","value":1}]`)}
	}
	entries := []struct {
		name string
		data []byte
		want error // nil: applied
	}{
		{"alice #1", encode(t, keys.sign(t, add("/a", 1), "alice")), nil},
		{"bob signs as alice", encode(t, keys.sign(t, add("/forged", 2), "bob")), ErrBadSignature},
		{"forged huge seq", encode(t, keys.sign(t, add("/forged", 1<<60), "bob")), ErrBadSignature},
		{"unsigned", encode(t, add("/unsigned", 2)), ErrBadSignature},
		{"unknown proposer", encode(t, keys.sign(t, Change{Proposer: "mallory", Seq: 1, Patch: Patch{}}, "bob")), ErrBadSignature},
		{"alice #2 after the forgeries", encode(t, keys.sign(t, add("/b", 2), "alice")), nil},
		{"forged, with an old seq", encode(t, keys.sign(t, add("/forged", 1), "bob")), ErrStale},
		{"replay of alice #1", encode(t, keys.sign(t, add("/a", 1), "alice")), ErrStale},
		{"replay of alice #2", encode(t, keys.sign(t, add("/b", 2), "alice")), nil},
	}
	members := []*Machine{newMachine(t, `{}`), newMachine(t, `{}`)}
	var applied [2][]Applied
	for i, m := range members {
		m.SetVerifier(keys.verify)
		m.OnApply(func(a Applied) { applied[i] = append(applied[i], a) })
	}
	for i, e := range entries {
		var results []Result
		for _, m := range members {
			results = append(results, m.ApplyEntry(uint64(10+i), e.data))
		}
		r := results[0]
		if e.want == nil && r.Err != nil || e.want != nil && !errors.Is(r.Err, e.want) {
			t.Fatalf("%s: result %v, want %v", e.name, r.Err, e.want)
		}
		if fmt.Sprint(results[0]) != fmt.Sprint(results[1]) {
			t.Fatalf("%s: members disagree: %v vs %v", e.name, results[0], results[1])
		}
		if errors.Is(r.Err, ErrBadSignature) && (applied[0][i].Changed || applied[0][i].Duplicate) {
			t.Fatalf("%s: OnApply saw %+v for a refused change", e.name, applied[0][i])
		}
	}
	if got := mustJSON(t, members[0]); got != `{"a":1,"b":1}` {
		t.Fatalf("document %s, want only alice's changes", got)
	}
	if members[0].Version() != 2 {
		t.Fatalf("version %d, want 2", members[0].Version())
	}
	s0, _ := members[0].Snapshot()
	s1, _ := members[1].Snapshot()
	if !bytes.Equal(s0, s1) {
		t.Fatalf("snapshots differ:\n%s\n%s", s0, s1)
	}
}

func TestVerifierErrorText(t *testing.T) {
	keys := newSigners("alice")
	m := newMachine(t, `{}`)
	m.SetVerifier(keys.verify)
	r := m.ApplyEntry(1, encode(t, Change{Proposer: "alice", Seq: 1, Patch: Patch{}}))
	if want := "change alice#1: bad signature: unsigned change"; r.Err == nil || r.Err.Error() != want {
		t.Fatalf("error %q, want %q", r.Err, want)
	}
	r = m.ApplyEntry(2, encode(t, Change{Proposer: "zed", Seq: 1, Patch: Patch{}}))
	if want := "change zed#1: bad signature: proposer zed is not a member"; r.Err == nil || r.Err.Error() != want || !errors.Is(r.Err, ErrBadSignature) {
		t.Fatalf("error %q, want %q wrapping ErrBadSignature", r.Err, want)
	}
}

// TestVerifierInBatch: a forged change in a batch is refused alone, and is
// not remembered among the results of the batch of the proposer it names.
func TestVerifierInBatch(t *testing.T) {
	keys := newSigners("alice", "bob")
	m := newMachine(t, `{}`)
	m.SetVerifier(keys.verify)
	mk := func(seq uint64, path string) Change {
		return Change{Proposer: "alice", Seq: seq, Patch: patchOf(t, `[{"op":"add","path":"`+path+`","value":1}]`)}
	}
	batch, err := EncodeBatch([]Change{keys.sign(t, mk(1, "/a"), "alice"), keys.sign(t, mk(2, "/x"), "bob"), keys.sign(t, mk(3, "/c"), "alice")})
	if err != nil {
		t.Fatal(err)
	}
	results := m.ApplyBatch(1, batch)
	if len(results) != 3 || results[0].Err != nil || !errors.Is(results[1].Err, ErrBadSignature) || results[2].Err != nil {
		t.Fatalf("batch results %v", results)
	}
	// Alice's #3 is applied, so her #2 is stale now; it must be answered
	// as stale, not with the forged #2's rejection.
	if r := m.ApplyEntry(2, encode(t, keys.sign(t, mk(2, "/b"), "alice"))); !errors.Is(r.Err, ErrStale) || errors.Is(r.Err, ErrBadSignature) {
		t.Fatalf("alice #2 after the batch: %v, want ErrStale", r.Err)
	}
	if r := m.ApplyEntry(3, encode(t, keys.sign(t, mk(4, "/d"), "alice"))); r.Err != nil {
		t.Fatalf("alice #4: %v", r.Err)
	}
}

// signBatch encodes changes as a signed batch, signed by signer.
func (s signers) signBatch(t testing.TB, signer string, changes ...Change) []byte {
	t.Helper()
	b, err := EncodeSignedBatch(changes, func(body []byte) ([]byte, error) { return ed25519.Sign(s[signer], body), nil })
	if err != nil {
		t.Fatalf("EncodeSignedBatch: %v", err)
	}
	return b
}

// countingVerifier counts how often the machine asks.
type countingVerifier struct {
	signers
	calls int
}

func (v *countingVerifier) verify(c Change) error { v.calls++; return v.signers.verify(c) }

// TestSignedBatch: a signed batch is checked once, each of its changes
// carries the batch's signature, and a signed batch signed by someone else
// than the proposer of its changes is refused change by change, identically
// and without a trace in the exactly-once table.
func TestSignedBatch(t *testing.T) {
	keys := newSigners("alice", "bob")
	v := &countingVerifier{signers: keys}
	m := newMachine(t, `{}`)
	m.SetVerifier(v.verify)
	mk := func(proposer string, seq uint64, path string) Change {
		return Change{Proposer: proposer, Seq: seq, Patch: patchOf(t, `[{"op":"add","path":"`+path+`","value":1}]`)}
	}
	good := keys.signBatch(t, "alice", mk("alice", 1, "/a"), mk("alice", 2, "/b"), mk("alice", 3, "/c"))
	if good[0] != signedBatchFormat {
		t.Fatalf("format byte %d", good[0])
	}
	var seen []Applied
	m.OnApply(func(a Applied) { seen = append(seen, a) })
	results, ok := m.Apply(1, good).([]Result)
	if !ok || len(results) != 3 {
		t.Fatalf("Apply(signed batch) = %v", results)
	}
	for i, r := range results {
		if r.Err != nil || r.Version != uint64(i+1) {
			t.Fatalf("change %d: %+v", i, r)
		}
	}
	if v.calls != 1 {
		t.Fatalf("the verifier was asked %d times for one signed batch, want 1", v.calls)
	}
	if len(seen[2].Change.Signature) != ed25519.SignatureSize {
		t.Fatalf("a change of a signed batch carries %d signature bytes", len(seen[2].Change.Signature))
	}
	// The whole batch again: answered by the exactly-once table, no check.
	if again := m.ApplyBatch(2, good); fmt.Sprint(again) != fmt.Sprint(results) || v.calls != 1 {
		t.Fatalf("replayed batch: %v (verifier asked %d times)", again, v.calls)
	}
	// Bob signs a batch of changes in alice's name, with his own in it.
	body, err := EncodeBatch([]Change{mk("bob", 1, "/bob"), mk("alice", 4, "/x"), mk("alice", 5, "/y")})
	if err != nil {
		t.Fatal(err)
	}
	bobSig := ed25519.Sign(keys["bob"], body)
	forged := append(binary.AppendUvarint([]byte{signedBatchFormat}, uint64(len(bobSig))), bobSig...)
	forged = append(forged, body...)
	_, err = EncodeSignedBatch([]Change{mk("bob", 1, "/bob"), mk("alice", 4, "/x")}, func([]byte) ([]byte, error) { return nil, nil })
	if err == nil {
		t.Fatal("EncodeSignedBatch accepted changes of two proposers")
	}
	results = m.ApplyBatch(3, forged)
	if results[0].Err != nil || !errors.Is(results[1].Err, ErrBadSignature) || !errors.Is(results[2].Err, ErrBadSignature) {
		t.Fatalf("forged batch: %v", results)
	}
	if r := m.ApplyBatch(4, keys.signBatch(t, "alice", mk("alice", 4, "/d"), mk("alice", 5, "/e"))); r[0].Err != nil || r[1].Err != nil {
		t.Fatalf("alice's #4 and #5 after the forgery: %v", r)
	}
	if got := mustJSON(t, m); got != `{"a":1,"b":1,"bob":1,"c":1,"d":1,"e":1}` {
		t.Fatalf("document %s", got)
	}
	// A signed batch's signature covers all of it: one change altered, and
	// the whole batch is refused.
	tampered := bytes.Replace(keys.signBatch(t, "alice", mk("alice", 6, "/f"), mk("alice", 7, "/g")), []byte(`"/g"`), []byte(`"/h"`), 1)
	for _, r := range m.ApplyBatch(5, tampered) {
		if !errors.Is(r.Err, ErrBadSignature) {
			t.Fatalf("tampered batch: %v", r)
		}
	}
}

func TestMalformedSignedBatches(t *testing.T) {
	m := newMachine(t, `{}`)
	sig := bytes.Repeat([]byte{1}, 64)
	batch, _ := EncodeBatch([]Change{{Proposer: "p", Seq: 1, Patch: Patch{}}})
	signedChange := encode(t, Change{Proposer: "p", Seq: 1, Patch: Patch{}, Signature: sig})
	innerSigned := binary.AppendUvarint([]byte{batchFormat}, uint64(len(signedChange)))
	innerSigned = append(innerSigned, signedChange...)
	frame := func(sigLen uint64, sig, body []byte) []byte {
		b := binary.AppendUvarint([]byte{signedBatchFormat}, sigLen)
		return append(append(b, sig...), body...)
	}
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"no length":            {[]byte{signedBatchFormat}, ErrMalformed},
		"length beyond end":    {frame(100, sig, nil), ErrMalformed},
		"a change, not batch":  {frame(64, sig, encode(t, Change{Proposer: "p", Seq: 1, Patch: Patch{}})), ErrVersion},
		"signed change inside": {frame(64, sig, innerSigned), ErrMalformed},
		"empty batch":          {frame(64, sig, []byte{batchFormat}), ErrMalformed},
	} {
		rs := m.ApplyBatch(1, tc.data)
		if len(rs) != 1 || !errors.Is(rs[0].Err, tc.want) {
			t.Errorf("%s: %v, want %v", name, rs, tc.want)
		}
	}
	if rs := m.ApplyBatch(1, frame(64, sig, batch)); len(rs) != 1 || rs[0].Err != nil {
		t.Fatalf("a well-framed signed batch without a verifier: %v", rs)
	}
}

// FuzzApplySignedBatch: no signed batch framing makes Apply panic or
// return no result, with a verifier or without.
func FuzzApplySignedBatch(f *testing.F) {
	keys := newSigners("a")
	good, err := EncodeSignedBatch([]Change{{Proposer: "a", Seq: 1, Patch: Patch{{Op: OpAdd, Path: "/x", Value: []byte("1")}}}, {Proposer: "a", Seq: 2, Patch: Patch{}}},
		func(body []byte) ([]byte, error) { return ed25519.Sign(keys["a"], body), nil })
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[1:], true)
	f.Add([]byte{64}, false)
	f.Fuzz(func(t *testing.T, data []byte, verify bool) {
		m, err := New([]byte(`{"x":0}`))
		if err != nil {
			t.Fatal(err)
		}
		if verify {
			m.SetVerifier(keys.verify)
		}
		rs, ok := m.Apply(1, append([]byte{signedBatchFormat}, data...)).([]Result)
		if !ok || len(rs) == 0 {
			t.Fatal("no result")
		}
	})
}
