//go:build !js

package mesh

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// remoteTracks reports the id of each track the remote starts sending on
// pc, and reads the track until the connection closes.
func remoteTracks(pc *webrtc.PeerConnection) <-chan string {
	ids := make(chan string, 4)
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		ids <- track.ID()
		go func() {
			for {
				if _, _, err := track.ReadRTP(); err != nil {
					return
				}
			}
		}()
	})
	return ids
}

// addTrack adds a track of the given codec (webrtc.MimeTypeVP8...) to pc
// and feeds it samples until the test ends: pion reports a remote track on
// its first packet.
func addTrack(t *testing.T, pc *webrtc.PeerConnection, mime, id string) *webrtc.RTPSender {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime}, id, "stream-"+id)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	go func() { // RTCP must be read for the sender to work
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				_ = track.WriteSample(media.Sample{Data: []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, Duration: 20 * time.Millisecond})
			case <-stop:
				return
			}
		}
	}()
	return sender
}

// waitTrack waits for a remote track with the given id.
func waitTrack(t *testing.T, ids <-chan string, who, want string) {
	t.Helper()
	select {
	case id := <-ids:
		if id != want {
			t.Fatalf("%s got track %q, want %q", who, id, want)
		}
	case <-time.After(testTimeout):
		t.Fatalf("%s: track %q did not arrive within %v", who, want, testTimeout)
	}
}

func TestTrackAddedAfterReady(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	atA, atB := remoteTracks(a.conn.PeerConnection()), remoteTracks(b.conn.PeerConnection())

	// From the impolite (dialing) side, then from the polite one.
	addTrack(t, a.conn.PeerConnection(), webrtc.MimeTypeVP8, "video-a")
	waitTrack(t, atB, "b", "video-a")
	roundTrip(t, a, b, "after a's track")

	addTrack(t, b.conn.PeerConnection(), webrtc.MimeTypeVP8, "video-b")
	waitTrack(t, atA, "a", "video-b")
	roundTrip(t, a, b, "after b's track")
	if d := a.conn.Stats().Dropped + b.conn.Stats().Dropped; d != 0 {
		t.Errorf("%d messages dropped", d)
	}
}

func TestTrackRemovedAfterReady(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	atB := remoteTracks(b.conn.PeerConnection())
	sender := addTrack(t, a.conn.PeerConnection(), webrtc.MimeTypeVP8, "video-a")
	waitTrack(t, atB, "b", "video-a")
	// a's next offer no longer sends on the video section. No event of
	// b's tells when it is applied, so poll b's remote description.
	aStopped := func() bool {
		sdp := b.conn.PeerConnection().RemoteDescription().SDP
		return strings.Contains(sdp, "m=video") && strings.Contains(sdp, "a=recvonly")
	}
	if aStopped() {
		t.Fatal("a's video section is recvonly before the removal")
	}
	if err := a.conn.PeerConnection().RemoveTrack(sender); err != nil {
		t.Fatal(err)
	}
	eventually(t, "renegotiation after the track's removal", aStopped)
	roundTrip(t, a, b, "after the removal")
}

// onNegotiation calls f with the type of each renegotiation message c is
// about to send.
func onNegotiation(c *Conn, f func(sdpType)) { c.negotiationSent.Store(&f) }

func TestTracksAddedOnBothSidesAtOnce(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	atA, atB := remoteTracks(a.conn.PeerConnection()), remoteTracks(b.conn.PeerConnection())
	// a (impolite) holds its offer until b (polite) has asked for its turn
	// and the request waits at a: the two renegotiations cross. b must get
	// its turn once a's offer is answered, and offer its audio track, which
	// cannot ride on a's video section.
	release := make(chan struct{})
	aOffer, bRequest := make(chan struct{}), make(chan struct{})
	var aOnce, bOnce sync.Once
	onNegotiation(a.conn, func(typ sdpType) {
		if typ == sdpOffer {
			aOnce.Do(func() { close(aOffer); <-release })
		}
	})
	onNegotiation(b.conn, func(typ sdpType) {
		if typ == negotiateRequest {
			bOnce.Do(func() { close(bRequest) })
		}
	})
	addTrack(t, a.conn.PeerConnection(), webrtc.MimeTypeVP8, "video-a")
	addTrack(t, b.conn.PeerConnection(), webrtc.MimeTypeOpus, "audio-b")
	for _, ch := range []chan struct{}{aOffer, bRequest} {
		select {
		case <-ch:
		case <-time.After(testTimeout):
			close(release)
			t.Fatal("renegotiations not started")
		}
	}
	eventually(t, "b's request queued at a", func() bool { return len(a.conn.reneg.in) > 0 })
	roundTrip(t, a, b, "while a's offer is held")
	close(release)

	waitTrack(t, atB, "b", "video-a")
	waitTrack(t, atA, "a", "audio-b")
	roundTrip(t, a, b, "after the crossing")
	if d := a.conn.Stats().Dropped + b.conn.Stats().Dropped; d != 0 {
		t.Errorf("%d messages dropped", d)
	}
}

func TestMalformedRenegotiationDropped(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	bad := []string{
		`not json`,
		`{"type":"pranswer","sdp":"v=0"}`,
		`{"type":"offer"}`,
		`{"type":"request"}`,               // only the polite side asks
		`{"type":"offer","sdp":"not sdp"}`, // refused by the peer connection
		`{"type":"answer","sdp":"v=0"}`,    // b has no offer pending: ignored
	}
	for _, msg := range bad {
		if err := a.conn.rel.send(encodeSingle(TypeNegotiate, []byte(msg))); err != nil {
			t.Fatal(err)
		}
	}
	for _, msg := range bad[:5] {
		select {
		case err := <-b.bad:
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: %v, want ErrMalformed", msg, err)
			}
		case <-time.After(testTimeout):
			t.Fatalf("%s not reported", msg)
		}
	}
	roundTrip(t, a, b, "still fine")
	if got := b.conn.Stats().Dropped; got != 5 {
		t.Errorf("dropped %d, want 5", got)
	}
}

// FuzzRenegotiationFrame sends arbitrary renegotiation frames (and SDP) to
// the acceptor of a live connection: whatever they hold, the connection
// drops or applies them and keeps carrying frames.
func FuzzRenegotiationFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n"}`,
		`{"type":"offer","sdp":"v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:-1\r\n"}`,
		`{"type":"answer","sdp":"v=0"}`,
		`{"type":"grant"}`,
		`{"type":"request"}`,
		`{"type":"offer","sdp":"\u0000"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		a, b := newPair(t, nil)
		if err := a.conn.rel.send(encodeSingle(TypeNegotiate, payload)); err != nil {
			t.Fatal(err)
		}
		roundTrip(t, a, b, "after the frame")
	})
}
