// cardex-e2e-v1 against the test vectors of docs/protocol.md §8.6, the same
// ones tests/unit/test_seal.c checks mbedTLS with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Seal, SealError, b64uDecode, b64uEncode, commitment, transcriptHash, newKeyPair, agree,
} from '../../src/core/seal.js';
import { b64uValid } from '../../src/core/proto.js';

const hex = (s) => Uint8Array.from(s.match(/../g), (h) => parseInt(h, 16));
const toHex = (b) => Buffer.from(b).toString('hex');

const V = {
  A: 'ada', B: 'grace', X: '9f86d081884c7d659a2feaa0c55ad015',
  skA: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  pkA: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  pkA64: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo',
  skB: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
  pkB: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  pkB64: '3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08',
  commit: '7dc690aa80ccb0715d0363c56c2db209d7cbc8bf86b04fdfcfcc843bad47d7f4',
  commit64: 'fcaQqoDMsHFdA2PFbC2yCdfLyL-GsE_fz8yEO61H1_Q',
  th: '850516139e2b72c0d6c11b4f110430b4dc0acb20b01413d99717bc085ef9ea1c',
  code: '869368',
  cardA: '["vcard",[["version",{},"text","4.0"],["fn",{},"text","Ada Lovelace"]]]',
  nA: 'AAECAwQFBgcICQoL',
  ctA: 'tYym2wfw9z1TEbpdRh4MNlDeXJk16xmXfVh2q-4bFLQxSwNh-gOLZFyeoI8lUlhSLMD7F5Itu_tsG4xEh5v1mDll4uiBseLTjAK3Js37OoNRt6gmz0ec',
  cardB: '["vcard",[["version",{},"text","4.0"],["fn",{},"text","Grace Hopper"]]]',
  nB: 'DA0ODxAREhMUFRYX',
  ctB: 'HaB3yKtefMrKYJa9PEw8IsvD4lbygnzkfQokn5eHaS0wevtRTFY7WpH87sy2VLooPVxfDkAiL-FlSRONRxsjizpoWEszauwrHCBiKcOvnhsgWUFFJIPP',
};

test('base64url: the vectors, canonical form only', () => {
  assert.equal(b64uEncode(hex(V.pkA)), V.pkA64);
  assert.equal(toHex(b64uDecode(V.pkB64)), V.pkB);
  for (let n = 0; n < 40; n++) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    assert.deepEqual(b64uDecode(b64uEncode(b)), b);
    assert.equal(b64uEncode(b), Buffer.from(b).toString('base64url'));
  }
  assert.equal(b64uDecode('AAECAwQFBgcICQoL='), null); // padding
  assert.equal(b64uDecode('AB'), null); // unused bits set: not canonical
  assert.equal(b64uDecode('A'), null);
  assert.equal(b64uDecode('AA+/'), null);
  assert.ok(b64uValid('AA'));
});

test('commitment, transcript hash and public keys of the vectors', async () => {
  const a = await newKeyPair(hex(V.skA));
  const b = await newKeyPair(hex(V.skB));
  assert.equal(toHex(a.pk), V.pkA);
  assert.equal(toHex(b.pk), V.pkB);
  assert.equal(toHex(await commitment(V.A, V.B, b.pk)), V.commit);
  assert.equal(toHex(await transcriptHash(V.X, V.A, V.B, a.pk, b.pk)), V.th);
});

test('both sides: the same safety code, and the sealed cards of the vectors', async () => {
  const sa = await Seal.create('offerer', V.A, V.B, hex(V.skA));
  const sb = await Seal.create('claimer', V.B, V.A, hex(V.skB));
  assert.equal(await sb.commitB64(), V.commit64);
  assert.equal(sa.pkB64, V.pkA64);
  assert.equal(await sb.agree(V.X, sa.pkB64), V.code);
  assert.equal(await sa.agree(V.X, sb.pkB64, V.commit64), V.code);
  assert.deepEqual(await sa.seal(V.cardA, hex('000102030405060708090a0b')), { n: V.nA, ct: V.ctA });
  assert.deepEqual(await sb.seal(V.cardB, hex('0c0d0e0f1011121314151617')), { n: V.nB, ct: V.ctB });
  assert.equal(await sb.open(V.nA, V.ctA), V.cardA);
  assert.equal(await sa.open(V.nB, V.ctB), V.cardB);
});

test('tampering: a flipped bit, the other direction, a wrong commitment, a low-order key', async () => {
  const sa = await Seal.create('offerer', V.A, V.B, hex(V.skA));
  const sb = await Seal.create('claimer', V.B, V.A, hex(V.skB));
  await sb.agree(V.X, sa.pkB64);
  const flipped = b64uDecode(V.ctA);
  flipped[5] ^= 1;
  await assert.rejects(sb.open(V.nA, b64uEncode(flipped)), (e) => e instanceof SealError && e.code === 'altered');
  await assert.rejects(sb.open(V.nB, V.ctB), (e) => e.code === 'altered'); // B's own direction
  await assert.rejects(sb.open('AAAA', V.ctA), (e) => e.code === 'altered');
  const other = await Seal.create('claimer', V.B, V.A);
  await assert.rejects(sa.agree(V.X, other.pkB64, V.commit64), (e) => e.code === 'altered');
  // A point of order 1 or 8 (RFC 7748 §7 lists them): the shared secret is zero.
  const fresh = await newKeyPair();
  for (const low of ['0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800']) {
    await assert.rejects(agree(fresh.privateKey, hex(low), new Uint8Array(32)), (e) => e.code === 'altered');
  }
});

test('fresh pairs agree with each other and never repeat', async () => {
  const sa = await Seal.create('offerer', 'p1', 'p2');
  const sb = await Seal.create('claimer', 'p2', 'p1');
  assert.notDeepEqual(sa.pk, sb.pk);
  const commit = await sb.commitB64();
  const xid = 'a'.repeat(32);
  const c1 = await sb.agree(xid, sa.pkB64);
  const c2 = await sa.agree(xid, sb.pkB64, commit);
  assert.match(c1, /^[0-9]{6}$/);
  assert.equal(c1, c2);
  const text = '["vcard",[["version",{},"text","4.0"],["fn",{},"text","Zoë ✓"]]]';
  const s1 = await sa.seal(text);
  const s2 = await sa.seal(text);
  assert.notEqual(s1.n, s2.n);
  assert.equal(await sb.open(s1.n, s1.ct), text);
});
