package room

import "github.com/rooms-dev/rooms/pkg/mesh"

// RaftStatus is this member's view of the room's replicated log, for
// inspectors and diagnostics.
type RaftStatus struct {
	// Term is the raft term: it grows with every election.
	Term uint64
	// Commit is the index of the last log entry known committed; Applied
	// the last one this member has applied to its state.
	Commit, Applied uint64
	// Leader is the doorman's participant id, "" while electing.
	Leader string
}

// Raft returns this member's raft status; the zero RaftStatus once the room
// is closed or before this member has a raft node.
func (r *Room) Raft() RaftStatus {
	n := r.node.Load()
	if n == nil {
		return RaftStatus{}
	}
	st := n.Status()
	if st.ID == 0 { // stopped
		return RaftStatus{}
	}
	return RaftStatus{Term: st.Term, Commit: st.Commit, Applied: st.Applied, Leader: r.Doorman()}
}

// Connections returns the open mesh connection to each other member whose
// participant id is known, keyed by that id. A connection is replaced when
// the link to a member is re-made, so callers that attach media to it
// should compare connections, not participant ids.
func (r *Room) Connections() map[string]*mesh.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]*mesh.Conn, len(r.peers))
	for id, p := range r.peers {
		mi, known := r.members[id]
		if !known || p.conn.State() != mesh.StateConnected {
			continue
		}
		out[mi.Participant] = p.conn
	}
	return out
}
