// Bad input of every kind: mutated corpus cards (a fixed seed, so that each
// run replays the same 3000 mutations) are read or refused with a
// CardError, never anything else, and every card read writes and reads back
// the same, as vCard 4.0 and as jCard. Long searches were run apart (about
// 37 000 mutations and 700 000 random jCards, nothing found).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CardError, cardFromJcard, cardToJcard, parseVcard, parseVcards, writeVcard,
} from '../../src/core/card.js';
import { corpus, dataDir } from '../lib/cli-sync.js';

function rng(seed) {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % n;
  };
}

const PIECES = [':', ';', ',', '\\', '=', '"', '\r\n', '\n ', 'BEGIN:VCARD\r\n', 'END:VCARD\r\n', 'VERSION:2.1\r\n',
  'VERSION:3.0\r\n', 'AGENT:', 'ENCODING=QUOTED-PRINTABLE', 'CHARSET=SHIFT_JIS', '=C3', 'TYPE=', 'VALUE=date', '^',
  '\xff', '\x00', 'item1.', 'LABEL:', 'SORT-STRING:', 'PHOTO;ENCODING=b:', 'X-APPLE-OMIT-YEAR=1604', 'BDAY:', 'TZ:', 'GEO:'];

test('mutated vCards: read or refused with a CardError; what is read reads back the same', () => {
  const seeds = readdirSync(join(dataDir(), 'vcard')).map((f) => corpus(f).toString('latin1'));
  const rnd = rng(20261203);
  let read = 0;
  for (let n = 0; n < 3000; n++) {
    let s = seeds[rnd(seeds.length)];
    for (let i = 1 + rnd(6); i > 0; i--) {
      const pos = rnd(s.length + 1);
      const k = rnd(4);
      if (k === 0) s = s.slice(0, pos) + PIECES[rnd(PIECES.length)] + s.slice(pos);
      else if (k === 1) s = s.slice(0, pos) + s.slice(pos + rnd(20));
      else if (k === 2) s = s.slice(0, pos) + String.fromCharCode(rnd(256)) + s.slice(pos + 1);
      else s = s.slice(0, pos) + s.slice(rnd(s.length));
    }
    let r;
    try {
      r = parseVcards(Buffer.from(s, 'latin1'));
    } catch (e) {
      assert.ok(e instanceof CardError, e.stack);
      continue;
    }
    for (const e of r.errors) assert.ok(e instanceof CardError);
    for (const card of r.cards) {
      read++;
      assert.deepEqual(parseVcard(writeVcard(card, 4), { maxPhoto: 0 }), card);
      assert.deepEqual(cardFromJcard(JSON.parse(JSON.stringify(cardToJcard(card)))), card);
      assert.equal(typeof writeVcard(card, 3), 'string');
    }
  }
  assert.ok(read > 1000, `only ${read} cards read: the mutations say little`);
});
