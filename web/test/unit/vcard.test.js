// The card model of the page against the C side's: every card of the vCard
// corpus (tests/data/vcard) read by card.js gives the jCard the cardex CLI
// gives for it, and the vCard 4.0 and 3.0 card.js writes are, byte for
// byte, what the CLI writes. Cards made on the page read back unchanged at
// the CLI, and the other way round.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CardError, cardFromJcard, cardToJcard, cardSelect, cardSet, cardAdd, newCard, parseVcard, parseVcards,
  writeVcard, cardFn, PHOTO_MAX,
} from '../../src/core/index.js';
import { corpus, dataDir, privateHome, runCli } from '../lib/cli-sync.js';

const home = privateHome();
after(() => home.rm());

/* The CLI's reading of file (card number n): its jCard, and its vCard 4.0 and 3.0. */
function cliRead(path, n) {
  const args = ['card', 'import', '--profile', 'probe', path];
  if (n !== undefined) args.push(String(n));
  const imp = runCli(args, home.dir);
  assert.equal(imp.code, 0, `cardex card import ${path}: ${imp.stderr}`);
  const out = {};
  for (const [k, extra] of [['jcard', ['--jcard']], ['v4', ['--vcard', '4.0']], ['v3', ['--vcard', '3.0']]]) {
    const r = runCli(['card', 'export', '--profile', 'probe', ...extra], home.dir);
    assert.equal(r.code, 0, r.stderr);
    out[k] = r.stdout;
  }
  out.jcard = JSON.parse(out.jcard);
  return out;
}

const files = readdirSync(join(dataDir(), 'vcard')).filter((f) => f.endsWith('.vcf')).sort();

test('the corpus is there', () => {
  assert.ok(files.length >= 15, files.join(' '));
});

for (const f of files) {
  test(`corpus ${f}: the same card as the CLI reads, the same vCard 4.0 and 3.0 written`, () => {
    const bytes = corpus(f);
    const path = join(home.dir, f);
    writeFileSync(path, bytes);
    const { cards, numbers, errors } = parseVcards(bytes);
    assert.ok(cards.length >= 1, `no card read: ${errors.map((e) => e.message)}`);
    cards.forEach((card, i) => {
      const c = cliRead(path, numbers.length + errors.length > 1 ? numbers[i] : undefined);
      assert.deepEqual(cardToJcard(card), c.jcard, `card ${i + 1}: jCard`);
      assert.equal(writeVcard(card, 4), c.v4, `card ${i + 1}: vCard 4.0`);
      assert.equal(writeVcard(card, 3), c.v3, `card ${i + 1}: vCard 3.0`);
      // What the page writes reads back as the same card, at both ends.
      assert.deepEqual(parseVcard(writeVcard(card, 4)), card);
      assert.deepEqual(cardFromJcard(cardToJcard(card)), card);
    });
  });
}

test('multi.vcf: the cards that can be read, and why the other cannot', () => {
  const { cards, errors } = parseVcards(corpus('multi.vcf'));
  assert.ok(cards.length >= 2);
  assert.ok(errors.length >= 1);
  assert.ok(errors.every((e) => e instanceof CardError && e.line > 0), errors.map((e) => e.message).join('; '));
});

test('cards made on the page read back unchanged at the CLI (vCard 3.0 and 4.0, jCard)', () => {
  const card = newCard('Zoë Ångström-Ødegård', {
    n: 'Ångström-Ødegård;Zoë;;Dr.;',
    tel: ['+46 70 555 01 00', '+46 8 555 01 01'],
    email: 'zoe@example.se',
    org: 'Ångström AB;Forskning; Utveckling',
    title: 'Chief, Research; Development',
    adr: ';;Storgatan 1\nLägenhet 4;Uppsala;;753 10;Sverige',
    note: 'Backslash \\ comma , semicolon ; colon : and a very long line that has to be folded at seventy-five octets without cutting ✓ in half',
    url: 'https://example.se/zoë',
    bday: '1985-04-12',
    nickname: 'Zo,Ödet',
    categories: 'work,friends',
  });
  for (const version of [3, 4]) {
    const path = join(home.dir, `page-${version}.vcf`);
    writeFileSync(path, writeVcard(card, version));
    const c = cliRead(path);
    const back = cardFromJcard(c.jcard);
    if (version === 4) {
      assert.deepEqual(back, card);
    } else {
      // 3.0 has no other form for these: the same names, phones, e-mails.
      assert.equal(cardFn(back), cardFn(card));
      assert.deepEqual(back.props.filter((p) => p.name === 'tel' || p.name === 'email' || p.name === 'note'),
        card.props.filter((p) => p.name === 'tel' || p.name === 'email' || p.name === 'note'));
    }
  }
  const jpath = join(home.dir, 'page.json');
  writeFileSync(jpath, JSON.stringify(cardToJcard(card)));
  assert.deepEqual(cardFromJcard(cliRead(jpath).jcard), card);
});

test('the C side refuses what card.js refuses', () => {
  const bad = {
    'no-fn': 'BEGIN:VCARD\r\nVERSION:4.0\r\nN:A;B;;;\r\nEND:VCARD\r\n',
    escape: 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:a\\qb\r\nEND:VCARD\r\n',
    version: 'BEGIN:VCARD\r\nVERSION:5.0\r\nFN:x\r\nEND:VCARD\r\n',
    truncated: 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\n',
    'no-colon': 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN\r\nEND:VCARD\r\n',
    utf8: Buffer.from('BEGIN:VCARD\r\nVERSION:4.0\r\nFN:\xff\xfe\r\nEND:VCARD\r\n', 'latin1'),
    property: 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN;VALUE=uri:http://x\r\nEND:VCARD\r\n',
    'begin-end': 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nEND:VCALENDAR\r\n',
    empty: '\r\n\r\n',
  };
  for (const [code, text] of Object.entries(bad)) {
    assert.throws(() => parseVcard(text), (e) => e instanceof CardError && e.code === code, code);
    const path = join(home.dir, `bad-${code}.vcf`);
    writeFileSync(path, text);
    const r = runCli(['card', 'import', '--profile', 'bad', path], home.dir);
    assert.notEqual(r.code, 0, `the CLI took the ${code} card`);
  }
  // A PHOTO over the limit.
  const photo = `BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nPHOTO:data:image/jpeg;base64,${'A'.repeat(PHOTO_MAX)}\r\nEND:VCARD\r\n`;
  assert.throws(() => parseVcard(photo), (e) => e.code === 'photo-size');
  // jCards the plugin would refuse, or the card model.
  assert.throws(() => cardFromJcard(['vcard', [['version', {}, 'text', '4.0']]]), (e) => e.code === 'no-fn');
  assert.throws(() => cardFromJcard(['vcard', [['fn', {}, 'text', 'x']]]), (e) => e.code === 'version');
  assert.throws(() => cardFromJcard(['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'uri', 'x']]]), (e) => e.code === 'property');
  assert.throws(() => cardFromJcard(['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'text', 'a\u0001b']]]), (e) => e.code === 'jcard');
  assert.throws(() => cardFromJcard(['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'text', 'x'], ['note', {}, 'text', [['a', ['b']]]]]]), (e) => e.code === 'jcard');
  assert.throws(() => cardFromJcard(JSON.parse(readFileSync(join(dataDir(), 'no-fn.json'), 'utf8'))));
});

test('editing: set, add, select keep the rules of card.h', () => {
  const card = newCard('Ada Lovelace');
  cardSet(card, 'org', 'Analytical Engines;R&D');
  cardAdd(card, 'email', 'ada@example.org');
  cardAdd(card, 'email', 'ada@home.example');
  cardSet(card, 'bday', '1815-12-10');
  assert.deepEqual(card.props.find((p) => p.name === 'bday').values, [[['18151210']]]);
  assert.deepEqual(cardToJcard(card)[1].find((p) => p[0] === 'bday'), ['bday', {}, 'date-and-or-time', '1815-12-10']);
  assert.throws(() => cardSet(card, 'fn', 'a\u0000b'), CardError);
  assert.throws(() => cardSet(card, 'version', '3.0'), CardError);
  assert.throws(() => cardSet(card, 'bad name', 'x'), CardError);
  const only = cardSelect(card, ['email']);
  assert.deepEqual(only.props.map((p) => p.name), ['fn', 'email', 'email']);
});
