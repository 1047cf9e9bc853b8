// Two terminals of the page exchange sealed cards through the real
// Mosquitto and plugin, over WebSockets (docs/protocol.md §5, §8.7).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CARD_TEXT_MAX, cardFromJcard, cardFn, cardSet, cardToJcard, checkCode, newCard,
} from '../../src/core/index.js';
import { closeAll, next, record, sleep, terminal } from '../lib/env.js';

after(closeAll);

const adaCard = () => cardToJcard(newCard('Ada Lovelace', { tel: '+44 20 7946 0000', email: 'ada@example.org', org: 'Analytical Engines;R&D' }));
const graceCard = () => cardToJcard(newCard('Grace Hopper', { email: 'grace@example.org', note: 'COBOL, compilers\nand nanoseconds' }));

test('page to page: sealed both ways, the same safety code on both sides', async () => {
  const a = await terminal('ada');
  const b = await terminal('grace');
  const offered = next(a, 'offer');
  const { key, ref } = a.offer({ card: adaCard(), ttl: 60 });
  assert.match(key, /^[0-9]{6}$/);
  assert.equal((await offered).ref, ref);
  const safetyA = next(a, 'safety');
  const safetyB = next(b, 'safety');
  const cardA = next(a, 'card');
  const cardB = next(b, 'card');
  const sentA = next(a, 'sent');
  const sentB = next(b, 'sent');
  const matchB = next(b, 'match');
  await b.claim('ada', `${key.slice(0, 3)} ${key.slice(3)}`, { card: graceCard() });
  const m = await matchB;
  assert.equal(m.peer, 'ada');
  assert.equal(m.sealed, true);
  assert.equal(m.role, 'claimer');
  const [sa, sb] = await Promise.all([safetyA, safetyB]);
  assert.equal(sa.code, sb.code);
  assert.match(sa.line, /^Safety code: [0-9]{3} [0-9]{3}$/);
  const [ca, cb] = await Promise.all([cardA, cardB]);
  assert.equal(ca.sealed, true);
  assert.equal(cb.sealed, true);
  assert.equal(cardFn(cardFromJcard(ca.card)), 'Grace Hopper');
  assert.deepEqual(cardFromJcard(ca.card), cardFromJcard(graceCard()));
  assert.deepEqual(cardFromJcard(cb.card), cardFromJcard(adaCard()));
  assert.equal((await sentA).peer, 'grace');
  assert.equal((await sentB).peer, 'ada');
  await a.close();
  await b.close();
});

test('confirm mode: nothing moves before the codes are confirmed; a refusal keeps nothing', async () => {
  const a = await terminal('alan', { confirm: true });
  const b = await terminal('edsger', { confirm: true });
  const evA = record(a);
  const evB = record(b);
  const { key } = a.offer({ card: adaCard() });
  await next(a, 'offer');
  const sa = next(a, 'safety');
  const sb = next(b, 'safety');
  await b.claim('alan', key, { card: graceCard() });
  const [codeA, codeB] = await Promise.all([sa, sb]);
  await sleep(300);
  assert.ok(!evA.some((e) => e.type === 'card' || e.type === 'sent'), 'no card before confirmation');
  assert.ok(!evB.some((e) => e.type === 'card' || e.type === 'sent'));
  // A types B's code; B refuses (a wrong code typed).
  assert.equal(checkCode(codeA.code, codeB.display), true);
  assert.equal(checkCode(codeB.code, '000 000') && codeB.code !== '000000', false);
  const sentA = next(a, 'sent');
  await a.confirm(codeA.exchange, true);
  await sentA;
  await b.confirm(codeB.exchange, false);
  await sleep(500);
  assert.ok(!evB.some((e) => e.type === 'card'), 'a refused exchange keeps no card');
  assert.ok(!evB.some((e) => e.type === 'sent'), 'and sends none');
  assert.ok(!evA.some((e) => e.type === 'card'), 'so the other side gets none');
  await a.close();
  await b.close();
});

test('wrong keys: attempts left, then the offer is revoked; the claimer hears no-match', async () => {
  const a = await terminal('barbara');
  const b = await terminal('mallory');
  const { key } = a.offer({ card: adaCard() });
  await next(a, 'offer');
  const wrong = key === '000000' ? '000001' : '000000';
  for (const left of [2, 1]) {
    const att = next(a, 'attempt');
    const err = next(b, 'error');
    await b.claim('barbara', wrong);
    const e = await err;
    assert.equal(e.code, 'no-match');
    assert.equal(e.peer, 'barbara', 'the error names whose offer was claimed');
    assert.equal(e.request, 'claim');
    assert.equal((await att).attemptsLeft, left);
  }
  const revoked = next(a, 'revoked');
  const err = next(b, 'error');
  await b.claim('barbara', wrong);
  assert.equal((await err).code, 'no-match');
  assert.equal((await revoked).reason, 'attempts');
  const late = next(b, 'error');
  await b.claim('barbara', key);
  assert.equal((await late).code, 'no-match', 'a burnt offer does not match its own key');
  await a.close();
  await b.close();
});

test('the largest card one exchange carries crosses sealed and intact; a larger one is refused before it leaves', async () => {
  const big = (n) => {
    const card = newCard('Ada Lovelace');
    cardSet(card, 'photo', `data:image/jpeg;base64,${'A'.repeat(n)}`);
    return cardToJcard(card);
  };
  const fits = big(CARD_TEXT_MAX - 200);
  assert.ok(JSON.stringify(fits).length <= CARD_TEXT_MAX);
  const a = await terminal('alan');
  const b = await terminal('edsger');
  assert.throws(() => a.offer({ card: big(CARD_TEXT_MAX) }), (e) => e.code === 'too-large');
  const { key } = a.offer({ card: fits });
  await next(a, 'offer');
  // b keeps the broker's loop awake with PINGREQs while it awaits the
  // match and the card (Terminal.wake), and stops once the card is in.
  let pings = 0;
  const ping = b.client.sendPing.bind(b.client);
  b.client.sendPing = () => { pings += 1; ping(); };
  const got = next(b, 'card', () => true, 20000);
  const sent = next(a, 'sent', () => true, 20000);
  await b.claim('alan', key, { card: graceCard() });
  assert.deepEqual((await got).card, fits);
  await sent;
  assert.ok(pings > 0, 'no PINGREQ was sent while the card was awaited');
  for (let i = 0; i < 100 && b.wakeTimer; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(b.wakeTimer, null, 'PINGREQs go on after the card came');
  const after = pings;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pings, after);
  await a.close();
  await b.close();
});
