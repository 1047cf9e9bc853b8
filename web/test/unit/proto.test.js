// Identifiers, messages, keys and QR payloads of the page, as the C side
// has them (common/ids.c, proto.c; client/cli/uri.c).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeReply, encodeClaim, encodeOffer, generateKey, groupKey, idValid, keyValid, parseUri, formatUri,
  clientId, b64uValid, encodeSealed, PAYLOAD_MAX,
} from '../../src/core/proto.js';
import { CARD_TEXT_MAX, checkCode } from '../../src/core/index.js';
import { Seal } from '../../src/core/seal.js';

test('terminal IDs and keys', () => {
  assert.ok(idValid('a'));
  assert.ok(idValid('A.b_c-9'.padEnd(64, 'x')));
  assert.ok(!idValid(''.padEnd(65, 'x')));
  for (const bad of ['', 'a b', 'a/b', 'a+', 'é', 'a:b', null, 7]) assert.ok(!idValid(bad), String(bad));
  assert.ok(keyValid('123456') && keyValid('1234567890123456'));
  for (const bad of ['12345', '12345678901234567', '12345a', ' 123456', '１２３４５６']) assert.ok(!keyValid(bad), bad);
  assert.equal(clientId('ada'), 'ada');
  assert.equal(clientId('ada', 'phone'), 'ada:phone');
  assert.throws(() => clientId('a b'));
});

test('generated keys: the digits asked for, and no digit favoured (no modulo bias)', () => {
  for (let d = 6; d <= 16; d++) assert.ok(keyValid(generateKey(d)) && generateKey(d).length === d);
  assert.throws(() => generateKey(5));
  assert.throws(() => generateKey(17));
  const counts = new Array(10).fill(0);
  const n = 200000;
  for (let i = 0; i < n / 16; i++) for (const ch of generateKey(16)) counts[ch]++;
  // Chi-square with 9 degrees of freedom: 33.7 is the 0.9999 quantile. Digits
  // taken as byte % 10 make 0-5 likelier (26/256 against 25/256): about 80 here.
  const e = n / 10;
  const chi = counts.reduce((s, c) => s + ((c - e) ** 2) / e, 0);
  assert.ok(chi < 33.7, `chi-square ${chi.toFixed(1)} over ${counts}`);
});

test('keys grouped for reading aloud as the CLI groups them', () => {
  const cases = {
    123456: '123 456', 1234567: '123 4567', 12345678: '123 456 78', 123456789: '123 456 789',
    1234567890: '123 456 7890', 1234567890123456: '123 456 789 012 3456',
  };
  for (const [k, g] of Object.entries(cases)) assert.equal(groupKey(k), g);
});

test('cardex: URIs as `cardex offer` draws them, and what a QR reader may hand over', () => {
  assert.equal(formatUri('ada', '483920'), 'cardex:ada/483920');
  assert.deepEqual(parseUri('cardex:ada/483920'), { id: 'ada', key: '483920' });
  assert.deepEqual(parseUri('CARDEX:Ada.B/1234567890123456\n'), { id: 'Ada.B', key: '1234567890123456' });
  for (const bad of ['https://x/ada/483920', 'cardex:ada', 'cardex:/483920', 'cardex:ada/48392', 'cardex:ada/483920x',
    'cardex:ada/483920/1', 'cardex:a b/483920', 'cardex:ada/483 920', '', null]) {
    assert.throws(() => parseUri(bad), (e) => e instanceof Error && !/483920/.test(e.message), String(bad));
  }
});

test('requests: exactly the fields of §3.1', () => {
  assert.deepEqual(JSON.parse(encodeOffer({ key: '483920', ref: 'r1' })), { key: '483920', ref: 'r1' });
  assert.deepEqual(JSON.parse(encodeOffer({ key: '483920', ttl: 60, ref: 'r1' })), { key: '483920', ttl: 60, ref: 'r1' });
  assert.throws(() => encodeOffer({ key: '483920', ttl: 601, ref: 'r1' }));
  assert.throws(() => encodeOffer({ key: '483920', ttl: 4, ref: 'r1' }));
  assert.throws(() => encodeOffer({ key: '483920', ref: 'a'.repeat(17) }));
  const commit = 'fcaQqoDMsHFdA2PFbC2yCdfLyL-GsE_fz8yEO61H1_Q';
  assert.deepEqual(JSON.parse(encodeClaim({ key: '483920', from: 'B', ref: 'r2', commit })),
    { key: '483920', from: 'B', ref: 'r2', commit });
  assert.throws(() => encodeClaim({ key: '483920', from: 'B', ref: 'r2', commit: `${commit}A` }));
});

test('replies: what §3.2 allows is read, anything else ignored', () => {
  const m = decodeReply('{"type":"match","exchange":"9f86d081884c7d659a2feaa0c55ad015","peer":"B","expires_in":300,"ref":"r1","peer_commit":"fcaQqoDMsHFdA2PFbC2yCdfLyL-GsE_fz8yEO61H1_Q"}');
  assert.equal(m.peer, 'B');
  assert.equal(m.expiresIn, 300);
  assert.equal(m.commit, 'fcaQqoDMsHFdA2PFbC2yCdfLyL-GsE_fz8yEO61H1_Q');
  const e = decodeReply(new TextEncoder().encode('{"type":"error","code":"rate-limited","topic":"claim/A","message":"too many","retry_after":42}'));
  assert.equal(e.retryAfter, 42);
  for (const bad of [
    'not json', '[]', '{"type":"nope"}', '{"type":"match","exchange":"X","peer":"B"}',
    '{"type":"match","exchange":"9f86d081884c7d659a2feaa0c55ad015","peer":"a b"}',
    '{"type":"attempt","attempts_left":-1,"ref":"r"}', '{"type":"attempt","attempts_left":1.5,"ref":"r"}',
    '{"type":"card","exchange":"9f86d081884c7d659a2feaa0c55ad015","from":"A","card":"x"}',
    '{"type":"card","exchange":"9f86d081884c7d659a2feaa0c55ad015","from":"A","n":"AAEC","ct":"x"}',
    '{"type":"pk","exchange":"9f86d081884c7d659a2feaa0c55ad015","from":"A","pk":"short"}',
    '{"type":"revoked","reason":"whatever","ref":"r"}', '{"type":"error"}', '{"type":"offer","ref":"bad ref"}',
  ]) {
    assert.equal(decodeReply(bad), null, bad);
  }
  assert.equal(decodeReply(Uint8Array.from([0x7b, 0xff, 0x7d])), null, 'invalid UTF-8');
  assert.ok(!b64uValid('AB') && b64uValid('AA') && !b64uValid('A'));
});

test('the largest card that fits one sealed message of the default max_payload', async () => {
  const a = await Seal.create('offerer', 'a', 'b');
  const b = await Seal.create('claimer', 'b', 'a');
  const xid = 'f'.repeat(32);
  await b.agree(xid, a.pkB64);
  await a.agree(xid, b.pkB64, await b.commitB64());
  const sized = async (len) => {
    const { n, ct } = await a.seal('x'.repeat(len));
    return encodeSealed(xid, n, ct).length;
  };
  assert.ok(await sized(CARD_TEXT_MAX) <= PAYLOAD_MAX);
  assert.ok(await sized(CARD_TEXT_MAX + 100) > PAYLOAD_MAX);
});

test('the confirmation answer, as the CLI reads it', () => {
  assert.equal(checkCode('869368', '869 368'), true);
  assert.equal(checkCode('869368', ' 869368 '), true);
  assert.equal(checkCode('869368', 'Y'), true);
  assert.equal(checkCode('869368', 'yes'), true);
  assert.equal(checkCode('869368', '869 369'), false);
  assert.equal(checkCode('869368', 'n'), false);
  assert.equal(checkCode('869368', ''), false);
  assert.equal(checkCode('869368', '8693680'), false);
});
