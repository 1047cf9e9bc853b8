// The page and the cardex CLI exchange sealed cards in both directions
// through the real broker: the page over WebSockets, the CLI over the plain
// listener. The cards arrive intact: what each side receives is, property
// for property, what the other side's own reading of the file gives.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cardFromJcard, cardSelect, cardToJcard, checkCode, parseUri, parseVcard, writeVcard,
} from '../../src/core/index.js';
import { brokerEnv, cli, closeAll, home, next, terminal } from '../lib/env.js';

after(closeAll);

const fixture = (name) => join(brokerEnv().data, 'vcard', name);

/* A corpus file without its leading '#' comment lines (vCard has none). */
function corpus(name) {
  const lines = readFileSync(fixture(name), 'latin1').split('\n');
  let i = 0;
  while (i < lines.length && lines[i].startsWith('#')) i++;
  return Buffer.from(lines.slice(i).join('\n'), 'latin1');
}

function corpusFile(name, dir) {
  const path = join(dir, name);
  writeFileSync(path, corpus(name));
  return path;
}

/* The jCard the CLI makes of a file: imported as a profile, exported as jCard. */
async function cliJcard(path, h) {
  const imp = cli(['card', 'import', path, '--profile', 'probe'], { home: h.dir });
  const r = await imp.done;
  assert.equal(r.code, 0, r.stderr);
  const exp = cli(['card', 'export', '--profile', 'probe', '--jcard'], { home: h.dir });
  const e = await exp.done;
  assert.equal(e.code, 0, e.stderr);
  return JSON.parse(e.stdout);
}

test('CLI offers, the page claims (QR payload), sealed, cards intact both ways', async () => {
  const h = home();
  try {
    const cliCardPath = corpusFile('apple-3.0.vcf', h.dir);
    const expected = await cliJcard(cliCardPath, h);
    const pageCard = parseVcard(corpus('thunderbird-4.0.vcf'));
    const offer = cli(['offer', '--json', '--no-qr', '--card', cliCardPath, '--timeout', '60'], { id: 'ada', home: h.dir });
    const o = await offer.next('offer');
    assert.equal(o.id, 'ada');
    // What the CLI draws as QR code is cardex:<id>/<key>.
    const { id, key } = parseUri(`cardex:${o.id}/${o.key}`);
    const g = await terminal('grace');
    const safety = next(g, 'safety');
    const card = next(g, 'card');
    const sent = next(g, 'sent');
    await g.claim(id, key, { card: cardToJcard(pageCard) });
    const s = await safety;
    const cs = await offer.next('safety');
    assert.equal(cs.safety_code, s.code, 'the CLI and the page show the same code');
    const got = await card;
    assert.equal(got.sealed, true);
    assert.deepEqual(cardFromJcard(got.card), cardFromJcard(expected), 'the CLI card, as the CLI reads its file');
    await sent;
    const cliGot = await offer.next('card');
    assert.equal(cliGot.sealed, true);
    assert.equal(cliGot.from, 'grace');
    assert.deepEqual(cardFromJcard(cliGot.card), pageCard, 'the page card, intact at the CLI');
    // And the vCard the page would save for the phone reads back the same at the CLI.
    const saved = join(h.dir, 'saved.vcf');
    writeFileSync(saved, writeVcard(cardFromJcard(got.card), 4));
    assert.deepEqual(cardFromJcard(await cliJcard(saved, h)), cardFromJcard(expected));
    const r = await offer.done;
    assert.equal(r.code, 0, r.stderr);
    await g.close();
  } finally {
    h.rm();
  }
});

test('the page offers, the CLI claims (key on stdin), sealed, cards intact both ways', async () => {
  const h = home();
  try {
    const cliCardPath = corpusFile('wikipedia-3.0.vcf', h.dir);
    const expected = await cliJcard(cliCardPath, h);
    const pageCard = parseVcard(corpus('rfc7095-b.vcf'));
    const a = await terminal('alan');
    const offered = next(a, 'offer');
    const { key } = a.offer({ card: cardToJcard(pageCard) });
    await offered;
    const card = next(a, 'card');
    const safety = next(a, 'safety');
    const claim = cli(['claim', 'alan', '--key-stdin', '--json', '--card', cliCardPath, '--timeout', '60'],
      { id: 'edsger', home: h.dir, stdin: `${key}\n` });
    const m = await claim.next('match');
    assert.equal(m.sealed, true);
    const cs = await claim.next('safety');
    assert.equal(cs.safety_code, (await safety).code);
    const got = await card;
    assert.deepEqual(cardFromJcard(got.card), cardFromJcard(expected));
    const cliGot = await claim.next('card');
    assert.deepEqual(cardFromJcard(cliGot.card), pageCard);
    const r = await claim.done;
    assert.equal(r.code, 0, r.stderr);
    await a.close();
  } finally {
    h.rm();
  }
});

test('the CLI with --confirm and the page in confirm mode: codes typed on both sides', async () => {
  const h = home();
  try {
    const a = await terminal('barbara', { confirm: true });
    const pageCard = parseVcard(corpus('gmail-3.0.vcf'));
    const { key } = a.offer({ card: cardToJcard(pageCard) });
    await next(a, 'offer');
    const safety = next(a, 'safety');
    const card = next(a, 'card');
    const adaPath = join(brokerEnv().data, 'ada.json');
    const ada = JSON.parse(readFileSync(adaPath, 'utf8'));
    const claim = cli(['claim', 'barbara', '--key-stdin', '--json', '--confirm', '--card', adaPath, '--timeout', '60'],
      { id: 'mallory', home: h.dir, stdin: null });
    claim.proc.stdin.write(`${key}\n`);
    const cs = await claim.next('safety');
    const sa = await safety;
    assert.equal(cs.safety_code, sa.code);
    // Each side types the code the other screen shows.
    claim.proc.stdin.end(`${sa.display}\n`);
    assert.equal(checkCode(sa.code, cs.safety_code), true);
    await a.confirm(sa.exchange, true);
    const got = await card;
    assert.equal(got.verified, true);
    assert.deepEqual(cardFromJcard(got.card), cardFromJcard(ada));
    const cliGot = await claim.next('card');
    assert.equal(cliGot.verified, true);
    assert.deepEqual(cardFromJcard(cliGot.card), pageCard);
    const r = await claim.done;
    assert.equal(r.code, 0, r.stderr);
    await a.close();
  } finally {
    h.rm();
  }
});

test('fields chosen for an exchange: what `cardex --only` sends is what cardSelect keeps', async () => {
  const h = home();
  try {
    const path = corpusFile('apple-3.0.vcf', h.dir);
    const full = cardFromJcard(await cliJcard(path, h));
    const offer = cli(['offer', '--json', '--no-qr', '--card', path, '--only', 'tel,email', '--timeout', '60'], { id: 'grace', home: h.dir });
    const o = await offer.next('offer');
    const t = await terminal('ada');
    const card = next(t, 'card');
    await t.claim('grace', o.key, { card: cardToJcard(full) });
    const got = cardFromJcard((await card).card);
    const want = cardSelect(full, 'tel,email');
    assert.deepEqual(got, want);
    assert.ok(got.props.some((p) => p.group === 'item1' && p.name === 'x-ablabel'), 'the label of item1.TEL came with it');
    assert.ok(!got.props.some((p) => p.name === 'photo' || p.name === 'note'));
    assert.equal((await offer.done).code, 0);
    await t.close();
  } finally {
    h.rm();
  }
});
