/*
Package state is a room's replicated state machine: one JSON document that
every member changes by applying the same committed changes in the same
order, so that every member holds the same document.

# The document

The state is a single JSON value (an object unless the app says otherwise:
New(nil) starts from {}). It is kept parsed, as a tree of maps, arrays,
strings, booleans, null and numbers kept as their exact JSON text
(json.Number): 0.1 stays 0.1 and 12345678901234567890 keeps all its digits.
Its serialization (Machine.JSON, Get, Snapshot) is deterministic: object
keys sorted, no insignificant space, so equal documents give equal bytes.
Nesting is limited to MaxDepth levels.

# Changes

A Change is made by one member (Proposer, its participant id) and numbered
by it (Seq, from 1 up). It carries either

  - a Patch: a JSON Patch (RFC 6902: add, remove, replace, move, copy, test,
    with JSON Pointer paths per RFC 6901, "~0"/"~1" escapes and "-" for the
    end of an array), applied atomically: all ops, or none. A `test` op
    makes the patch conditional: [{"op":"test","path":"/seat/3","value":null},
    {"op":"replace","path":"/seat/3","value":"alice"}] takes the seat only
    if it is still empty; or

  - an Action: a name and a JSON payload, turned into a patch by the Reducer
    registered under that name (Machine.Register) on every member.

EncodeChange turns a Change into the bytes of a raft entry (a format version
byte, then JSON; at most MaxChangeSize bytes) and DecodeChange reads them
back; an unknown format version is ErrVersion.

# Signatures

A change may carry its proposer's Signature over Change.SignedBytes (the
change in format 1); it is then encoded in the signed format (3). A
proposer with several changes in flight signs them once, as a signed batch
(EncodeSignedBatch, format 4): each of its changes then carries the batch's
signature, which covers the whole batch, and members check it once. This
package carries signatures but knows no keys: a Verifier set with
Machine.SetVerifier checks each change that would be applied, on every
member, in log order. A refused change is rejected with ErrBadSignature and
leaves no trace in the exactly-once table, so nobody can use up another
proposer's sequence numbers with forged changes. A change the exactly-once
table answers (an old change replayed, a retry) is not checked: it is
answered ErrStale or with its first answer again, and changes nothing.
Without a Verifier, signed and unsigned changes apply alike; the room's
Verifier refuses unsigned ones.

# Applying

Machine implements raftnode's StateMachine: Apply(index, data) for each
committed normal entry, Snapshot and Restore. Apply returns a Result: the
document Version after the change (the count of changes applied so far) and
Err, nil or a typed error:

	ErrConflict       the change does not fit the document: a test op failed,
	                  or a path names nothing (then also ErrNotFound)
	ErrMalformed      wrong whatever the document: bad JSON, bad pointer,
	                  unknown op, missing member, move into itself
	ErrTooLarge       over MaxChangeSize, nesting over MaxDepth, or copy
	                  ops copying over MaxCopyValues values
	ErrUnknownAction  no reducer registered under the action's name
	ErrReducer        the reducer returned an error or panicked
	ErrStale          an older Seq than the proposer's last applied one
	ErrVersion        an entry in a format this member does not read
	ErrBadSignature   the Verifier refused the change (see Signatures)

Errors carry context ("patch op 0 (test /seat/3): conflict: test failed:
the value differs"). A rejected change leaves the document byte-identical, and is
rejected with the same error text on every member: results are decided by
the entry and the document alone. Apply never panics on bad data. Empty
entry data (raft's own empty entries) is a no-op.

# Exactly once

The machine remembers, per proposer, the last Seq applied and its Result (a
rejection included). A change whose Seq is not above that is not applied
again: for Seq equal to the last, Apply returns the remembered Result, so a
proposer that retries a change after a timeout learns what happened to the
first copy; for an older Seq it returns ErrStale. Sequence numbers may skip.
The table is part of the snapshot. It holds one small entry per proposer
that ever wrote.

# Reducers

A Reducer gets read access to the document (a Reader), the action's payload
and an ActionContext (proposer, seq, raft index, version), and returns the
patch to apply. It runs on every member, so it must be deterministic and
pure: no clocks, no random numbers (derive them from the context), no
iteration over Go maps without sorting, no I/O, no state kept between calls,
no reading the Machine itself (its lock is held: use the Reader). Errors and
panics reject the action with ErrReducer, carrying the error's text.
ReducerFunc adapts a function; the browser build adapts JS reducers.

# Cost

Applying a change costs O(change), not O(document): paths are followed in
the tree and the touched containers are mutated in place. Atomicity comes
from an undo log of the ops done so far, replayed backwards when an op
fails, so a rejection costs no more than the work it undoes. Costs that do
grow: inserting into or removing from an array shifts its later elements
(O(array length)); copy copies its subtree (at most MaxCopyValues values
per change, so that one change cannot double the document again and
again); test compares its subtree; a move to a deeper path measures the
moved subtree's depth. Nothing parses or serializes the whole document per
change: JSON is serialized on demand and cached until the next change.
Applied.Patch (to OnApply hooks) is the patch actually applied, so a mirror
of the document (the JS side's) can follow at the same cost.

# Concurrency

Apply, Snapshot and Restore are called from one goroutine (raft's apply
loop). Reads (Get, Decode, JSON, Version, Index), Register and OnApply are
safe from any goroutine; reads take a read lock and never block each other.
OnApply hooks run on the applying goroutine after each Apply or Restore,
outside the lock.

# Snapshots

Snapshot returns the document, version, last raft index and exactly-once
table in a versioned format with a CRC-32; Restore replaces the state with
one, or returns ErrVersion or ErrCorrupt and leaves the state untouched.
*/
package state
