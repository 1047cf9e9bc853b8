// The reply filter (filter.js) on the sequences libcardex's filter handles
// (client/filter.c; test_client): an old session's replies, QoS 1
// duplicates, resent requests answered twice, a card before its match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyFilter } from '../../src/core/filter.js';

const X = '9f86d081884c7d659a2feaa0c55ad015';
const Y = '0123456789abcdef0123456789abcdef';
const kinds = (f, replies) => replies.flatMap((r) => f.reply(r)).map((e) => e.kind);
const r = (o) => ({ ref: '', exchange: '', peer: '', reason: '', offer: false, code: '', message: '', topic: '', attemptsLeft: 0, ...o });

test('replies of no live request are ignored: an old session, another offer', () => {
  const f = new ReplyFilter();
  f.newOffer('r1');
  assert.deepEqual(kinds(f, [
    r({ type: 'offer', ref: 'old' }), r({ type: 'match', ref: 'old', exchange: X, peer: 'B' }),
    r({ type: 'card', exchange: X, peer: 'B', card: [] }), r({ type: 'error', ref: 'zz', code: 'no-match' }),
    r({ type: 'error', exchange: Y, code: 'unknown-exchange' }),
  ]), []);
});

test('each outcome once: duplicates of offer, attempt, match, card, sent, expired', () => {
  const f = new ReplyFilter();
  f.newOffer('r1');
  assert.deepEqual(kinds(f, [
    r({ type: 'offer', ref: 'r1' }), r({ type: 'offer', ref: 'r1' }),
    r({ type: 'attempt', ref: 'r1', attemptsLeft: 2 }), r({ type: 'attempt', ref: 'r1', attemptsLeft: 2 }),
    r({ type: 'attempt', ref: 'r1', attemptsLeft: 1 }),
    r({ type: 'match', ref: 'r1', exchange: X, peer: 'B' }), r({ type: 'match', ref: 'r1', exchange: X, peer: 'B' }),
    r({ type: 'pk', exchange: X, peer: 'B', pk: 'k' }), r({ type: 'pk', exchange: X, peer: 'B', pk: 'k' }),
    r({ type: 'card', exchange: X, peer: 'B' }), r({ type: 'card', exchange: X, peer: 'B' }),
    r({ type: 'sent', exchange: X, peer: 'B' }), r({ type: 'sent', exchange: X, peer: 'B' }),
    r({ type: 'expired', exchange: X }), r({ type: 'expired', exchange: X }),
  ]), ['offer', 'attempt', 'attempt', 'match', 'pk', 'card', 'sent', 'expired']);
});

test('a card or key only from the peer of its exchange', () => {
  const f = new ReplyFilter();
  f.newClaim('c1');
  assert.deepEqual(kinds(f, [
    r({ type: 'match', ref: 'c1', exchange: X, peer: 'A' }),
    r({ type: 'card', exchange: X, peer: 'M' }), r({ type: 'pk', exchange: X, peer: 'M' }),
    r({ type: 'card', exchange: X, peer: 'A' }),
  ]), ['match', 'card']);
});

test('a card that overtakes its match is held and replayed after it', () => {
  const f = new ReplyFilter();
  f.newClaim('c1');
  const out = [
    r({ type: 'pk', exchange: X, peer: 'A' }), r({ type: 'card', exchange: X, peer: 'A' }),
    r({ type: 'match', ref: 'c1', exchange: X, peer: 'A' }),
  ].flatMap((m) => f.reply(m)).map((e) => e.kind);
  assert.deepEqual(out, ['match', 'pk', 'card']);
});

test('a second exchange for one ref (resent copies of offer and claim) is dropped', () => {
  const f = new ReplyFilter();
  f.newOffer('r1');
  assert.deepEqual(kinds(f, [
    r({ type: 'match', ref: 'r1', exchange: X, peer: 'B' }), r({ type: 'match', ref: 'r1', exchange: Y, peer: 'B' }),
    r({ type: 'expired', offer: true, ref: 'r1' }), r({ type: 'attempt', ref: 'r1', attemptsLeft: 0 }),
  ]), ['match']);
  assert.ok(f.resendDrops >= 1);
});

test('"replaced": our own resent offer replacing itself is no news; another connection\'s offer is', () => {
  const own = new ReplyFilter();
  own.newOffer('r1');
  assert.deepEqual(kinds(own, [r({ type: 'offer', ref: 'r1' }), r({ type: 'revoked', ref: 'r1', reason: 'replaced' }),
    r({ type: 'offer', ref: 'r1' })]), ['offer']);
  const other = new ReplyFilter();
  other.newOffer('r1');
  assert.deepEqual(kinds(other, [r({ type: 'offer', ref: 'r1' }), r({ type: 'revoked', ref: 'r1', reason: 'replaced' }),
    r({ type: 'offer', ref: 'r9' })]), ['offer', 'revoked']);
});

test('errors: the first answer of a request only; card errors only while a card awaits its answer', () => {
  const f = new ReplyFilter();
  f.newClaim('c1');
  assert.deepEqual(kinds(f, [r({ type: 'error', ref: 'c1', code: 'no-match' }), r({ type: 'error', ref: 'c1', code: 'no-match' })]), ['error']);
  f.newClaim('c2');
  assert.deepEqual(kinds(f, [r({ type: 'match', ref: 'c2', exchange: X, peer: 'A' }), r({ type: 'error', ref: 'c2', code: 'no-match' })]), ['match']);
  const x = f.exchange(X);
  assert.deepEqual(kinds(f, [r({ type: 'error', exchange: X, code: 'bad-order' })]), [], 'no card sent yet');
  x.sendsPending = 1;
  assert.deepEqual(kinds(f, [
    r({ type: 'error', exchange: X, code: 'already-sent', message: 'this terminal already sent its key in this exchange' }),
    r({ type: 'error', exchange: X, code: 'bad-card' }), r({ type: 'error', exchange: X, code: 'bad-card' }),
  ]), ['error']);
  x.sendsPending = 1;
  const tooLarge = f.reply(r({ type: 'error', code: 'too-large', topic: 'card/A' }));
  assert.equal(tooLarge.length, 1);
  assert.equal(tooLarge[0].reply.exchange, X, 'an unparsed card is ours by its topic');
});
