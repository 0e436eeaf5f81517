package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rooms-dev/rooms/pkg/state"
)

// maxLineSize bounds one stdin line: a change may encode to MaxChangeSize,
// and a longer line could never be applied anyway.
const maxLineSize = state.MaxChangeSize

// errBadLine marks a stdin line that is not a command at all.
var errBadLine = errors.New("bad input line")

// inputCommand is the object form of a stdin line: an ephemeral message, a
// linearizable read, or a look at the members.
type inputCommand struct {
	Send  json.RawMessage `json:"send"`
	To    string          `json:"to"`
	Read  bool            `json:"read"`
	Peers bool            `json:"peers"`
}

// serveInput answers every stdin line with a result line, in order, until
// stdin ends or ctx is cancelled. Lines are numbered from 1.
func (m *member) serveInput(ctx context.Context, timeout time.Duration, stdin io.Reader) {
	br := bufio.NewReaderSize(stdin, 64<<10)
	for n := 1; ctx.Err() == nil; n++ {
		line, err := readLine(br, maxLineSize)
		switch {
		case errors.Is(err, io.EOF):
			return
		case err != nil && !errors.Is(err, errBadLine):
			m.out.write(errorLine{Event: "error", Message: fmt.Sprintf("reading stdin: %v", err)})
			return
		}
		res := resultLine{Event: "result", Line: n}
		if err == nil {
			err = m.do(ctx, timeout, line, &res)
		}
		if ctx.Err() != nil && err != nil {
			return // leaving: the line was cut short, not refused
		}
		if err != nil {
			msg := fmt.Sprintf("line %d: %v", n, err)
			res.Error, res.Code = &msg, errorCode(err)
		} else {
			res.OK = true
		}
		m.out.write(res)
	}
}

// readLine returns the next line without its line ending. A line longer
// than limit is consumed whole and reported as an error; io.EOF means no
// line was left.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	size := 0
	for {
		chunk, err := br.ReadSlice('\n')
		size += len(chunk)
		if size <= limit+2 { // room for "\r\n"
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (!errors.Is(err, io.EOF) || size == 0) {
			return nil, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if size > limit+2 || len(line) > limit {
			return nil, fmt.Errorf("%w: longer than %d bytes", errBadLine, limit)
		}
		return line, nil
	}
}

// input is one parsed stdin line: a patch, or else a command.
type input struct {
	patch state.Patch
	cmd   inputCommand
}

const commandForms = `{"send":data,"to":id}, {"read":true} or {"peers":true} (a patch is an array of ops)`

// parseInput reads one stdin line: a JSON Patch (an array of ops), or a
// command object with exactly one of "send", "read" and "peers".
func parseInput(line []byte) (input, error) {
	line = bytes.TrimSpace(line)
	switch {
	case len(line) == 0:
		return input{}, fmt.Errorf("%w: empty line; expected a JSON Patch (an array of ops)", errBadLine)
	case line[0] == '[':
		p, err := state.ParsePatch(line)
		if err != nil {
			return input{}, fmt.Errorf("not a valid JSON Patch: %w", err)
		}
		return input{patch: p}, nil
	case line[0] != '{':
		return input{}, fmt.Errorf("%w: expected a JSON Patch (an array of ops) or a command object", errBadLine)
	}
	var c inputCommand
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.More() {
		return input{}, fmt.Errorf("%w: a command object is %s: %v", errBadLine, commandForms, err)
	}
	count := 0
	for _, set := range []bool{c.Send != nil, c.Read, c.Peers} {
		if set {
			count++
		}
	}
	if count != 1 {
		return input{}, fmt.Errorf("%w: a command object is one of %s", errBadLine, commandForms)
	}
	return input{cmd: c}, nil
}

// do runs one stdin line and fills in res: a patch is proposed as an
// update; {"send":data,"to":id} sends an ephemeral message; {"read":true}
// is a linearizable read; {"peers":true} lists the members.
func (m *member) do(ctx context.Context, timeout time.Duration, line []byte, res *resultLine) error {
	in, err := parseInput(line)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch c := in.cmd; {
	case in.patch != nil:
		res.Version, err = m.r.Update(ctx, in.patch)
		return err
	case c.Send != nil:
		return m.r.Send(c.To, c.Send)
	case c.Read:
		res.State, err = m.r.Read(ctx)
		return err
	}
	res.Peers = peerList(m.r.Peers())
	return nil
}
