package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
)

// snapshotFormat is the first byte of a snapshot: the format version.
// Version 1 is that byte, one JSON object, then the CRC-32 (IEEE, big
// endian) of everything before it:
//
//	{"version":12,"index":40,"sessions":[{"proposer":"alice","seq":7,
//	 "result":12},{"proposer":"bob","seq":3,"result":9,"error":"…",
//	 "kinds":["conflict"]}],"doc":{…}}
const snapshotFormat byte = 1

type snapshotJSON struct {
	Version  uint64          `json:"version"`
	Index    uint64          `json:"index"`
	Sessions []sessionJSON   `json:"sessions"`
	Doc      json.RawMessage `json:"doc"`
}

type sessionJSON struct {
	Proposer string   `json:"proposer"`
	Seq      uint64   `json:"seq"`
	Result   uint64   `json:"result"`
	Error    string   `json:"error,omitempty"`
	Kinds    []string `json:"kinds,omitempty"`
	// Batch holds the proposer's results of its last batch, if any.
	Batch []batchResultJSON `json:"batch,omitempty"`
}

type batchResultJSON struct {
	Seq    uint64   `json:"seq"`
	Result uint64   `json:"result"`
	Error  string   `json:"error,omitempty"`
	Kinds  []string `json:"kinds,omitempty"`
}

// Snapshot returns the full state: document, version, last raft index and
// the exactly-once table, in a versioned, checksummed format that Restore
// reads on any member. Equal states give equal bytes.
func (m *Machine) Snapshot() ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b := []byte{snapshotFormat}
	b = append(b, `{"version":`...)
	b = strconv.AppendUint(b, m.version, 10)
	b = append(b, `,"index":`...)
	b = strconv.AppendUint(b, m.index, 10)
	b = append(b, `,"sessions":`...)
	sessions, err := json.Marshal(m.sessionList())
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	b = append(b, sessions...)
	b = append(b, `,"doc":`...)
	if c := m.cache.Load(); c != nil {
		b = append(b, *c...)
	} else {
		b = appendJSON(b, m.doc)
	}
	b = append(b, '}')
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

// sessionList is the exactly-once table, sorted by proposer.
func (m *Machine) sessionList() []sessionJSON {
	list := make([]sessionJSON, 0, len(m.sessions))
	for p, s := range m.sessions {
		j := sessionJSON{Proposer: p, Seq: s.seq, Result: s.result.Version}
		if s.result.Err != nil {
			j.Error = s.result.Err.Error()
			j.Kinds = kindNames(s.result.Err)
		}
		for _, b := range s.batch {
			bj := batchResultJSON{Seq: b.seq, Result: b.result.Version}
			if b.result.Err != nil {
				bj.Error, bj.Kinds = b.result.Err.Error(), kindNames(b.result.Err)
			}
			j.Batch = append(j.Batch, bj)
		}
		list = append(list, j)
	}
	slices.SortFunc(list, func(a, b sessionJSON) int {
		switch {
		case a.Proposer < b.Proposer:
			return -1
		case a.Proposer > b.Proposer:
			return 1
		}
		return 0
	})
	return list
}

// Restore replaces the whole state with a snapshot made by Snapshot. On any
// error (ErrVersion, ErrCorrupt) the state is left as it was. OnApply hooks
// see an Applied with Restored set.
func (m *Machine) Restore(snapshot []byte) error {
	s, err := decodeSnapshot(snapshot)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	m.mu.Lock()
	m.doc, m.version, m.index, m.sessions = s.doc, s.version, s.index, s.sessions
	m.cache.Store(nil)
	m.mu.Unlock()
	m.notify(Applied{Index: s.index, Result: Result{Version: s.version}, Changed: true, Restored: true})
	return nil
}

type restored struct {
	doc      any
	version  uint64
	index    uint64
	sessions map[string]session
}

func decodeSnapshot(b []byte) (restored, error) {
	var r restored
	switch {
	case len(b) < 1+4:
		return r, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, len(b))
	case b[0] != snapshotFormat:
		return r, fmt.Errorf("%w: snapshot format %d, this member reads %d", ErrVersion, b[0], snapshotFormat)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return r, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	var j snapshotJSON
	if err := json.Unmarshal(body[1:], &j); err != nil {
		return r, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	doc, err := parseValue(j.Doc, MaxDepth)
	if err != nil {
		return r, fmt.Errorf("%w: document: %v", ErrCorrupt, err)
	}
	r = restored{doc: doc, version: j.Version, index: j.Index, sessions: make(map[string]session, len(j.Sessions))}
	for _, sj := range j.Sessions {
		if err := r.addSession(sj); err != nil {
			return restored{}, err
		}
	}
	return r, nil
}

func (r *restored) addSession(sj sessionJSON) error {
	if _, dup := r.sessions[sj.Proposer]; dup || sj.Proposer == "" || sj.Seq == 0 || sj.Result > r.version {
		return fmt.Errorf("%w: bad exactly-once entry for %s", ErrCorrupt, short(sj.Proposer))
	}
	res, err := resultFromJSON(sj.Result, sj.Error, sj.Kinds)
	if err != nil {
		return err
	}
	s := session{seq: sj.Seq, result: res}
	for _, bj := range sj.Batch {
		if bj.Seq == 0 || bj.Seq > sj.Seq || bj.Result > r.version {
			return fmt.Errorf("%w: bad batch entry for %s", ErrCorrupt, short(sj.Proposer))
		}
		br, err := resultFromJSON(bj.Result, bj.Error, bj.Kinds)
		if err != nil {
			return err
		}
		s.batch = append(s.batch, seqResult{bj.Seq, br})
	}
	r.sessions[sj.Proposer] = s
	return nil
}

func resultFromJSON(version uint64, text string, kinds []string) (Result, error) {
	res := Result{Version: version}
	if text != "" || len(kinds) > 0 {
		e, err := errorFromNames(text, kinds)
		if err != nil {
			return Result{}, err
		}
		res.Err = e
	}
	return res, nil
}
