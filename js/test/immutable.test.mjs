// Unit tests of the shim's immutable JSON Patch and diff (node --test).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { applyPatch, deepFreeze, diff } from '../src/immutable.js'

test('applyPatch copies only the touched path', () => {
  const doc = deepFreeze({ a: { b: 1 }, c: { d: [1, 2, 3] }, e: 'x' })
  const next = applyPatch(doc, [{ op: 'replace', path: '/a/b', value: 2 }])
  assert.equal(next.a.b, 2)
  assert.equal(doc.a.b, 1, 'the old document is unchanged')
  assert.equal(next.c, doc.c, 'an untouched subtree keeps its identity')
  assert.notEqual(next.a, doc.a)
  assert.ok(Object.isFrozen(next) && Object.isFrozen(next.a))
})

test('applyPatch follows RFC 6902', () => {
  const cases = [
    [{ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }], { foo: 'bar', baz: 'qux' }],
    [{ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }], { foo: ['bar', 'qux', 'baz'] }],
    [{ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: 'x' }], { foo: ['bar', 'x'] }],
    [{ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
    [{ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }], { foo: ['bar', 'baz'] }],
    [{ foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
      [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } }],
    [{ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }], { foo: ['all', 'cows', 'eat', 'grass'] }],
    [{ a: { b: 1 } }, [{ op: 'copy', from: '/a', path: '/c' }], { a: { b: 1 }, c: { b: 1 } }],
    [{ 'a/b': 1, 'm~n': 2 }, [{ op: 'replace', path: '/a~1b', value: 3 }, { op: 'remove', path: '/m~0n' }], { 'a/b': 3 }],
    [{ a: 1 }, [{ op: 'replace', path: '', value: [1] }], [1]],
  ]
  for (const [doc, patch, want] of cases) {
    assert.deepEqual(applyPatch(deepFreeze(doc), patch), want, JSON.stringify(patch))
  }
})

test('applyPatch rejects what does not apply, leaving the document', () => {
  const doc = deepFreeze({ a: [1], n: 1 })
  for (const patch of [
    [{ op: 'test', path: '/n', value: 2 }],
    [{ op: 'remove', path: '/missing' }],
    [{ op: 'replace', path: '/a/5', value: 1 }],
    [{ op: 'add', path: '/x/y', value: 1 }],
    [{ op: 'nope', path: '/n' }],
  ]) {
    assert.throws(() => applyPatch(doc, patch), JSON.stringify(patch))
  }
  assert.deepEqual(doc, { a: [1], n: 1 })
})

test('diff turns prev into next and skips shared parts', () => {
  const shared = deepFreeze({ big: [1, 2, 3] })
  const pairs = [
    [{ a: 1, s: shared }, { a: 2, s: shared }],
    [{ a: 1, b: 2 }, { a: 1 }],
    [{ l: [1, 2, 3] }, { l: [1, 5] }],
    [{ l: [1] }, { l: [1, { x: 'y' }, 3] }],
    [{ 'a/b': { '~': 1 } }, { 'a/b': { '~': 2 } }],
    [{ t: 'x' }, { t: { nested: true } }],
    [[1, 2], { now: 'object' }],
  ]
  for (const [prev, next] of pairs) {
    const p = diff(deepFreeze(prev), next)
    assert.deepEqual(applyPatch(deepFreeze(prev), p), next, JSON.stringify(p))
  }
  const ops = diff({ a: 1, s: shared }, { a: 2, s: shared })
  assert.deepEqual(ops, [{ op: 'replace', path: '/a', value: 2 }])
  assert.throws(() => diff({}, { f: () => 1 }), /JSON/)
})
