// What a phone's network does to an exchange: dropped mid-exchange and
// back, a claim made while offline, a peer offline for a while, a refused
// password, an unreachable broker, rate limits and expiry; each shows the
// right state and loses nothing.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cardFromJcard, cardToJcard, newCard, Terminal } from '../../src/core/index.js';
import { brokerEnv, closeAll, next, record, sleep, terminal } from '../lib/env.js';
import { relay } from '../lib/proxy.js';

after(closeAll);

const card = (fn) => cardToJcard(newCard(fn, { email: `${fn.split(' ')[0].toLowerCase()}@example.org` }));
const count = (events, type) => events.filter((e) => e.type === type).length;

for (const who of ['claimer', 'offerer']) {
  test(`the ${who}'s network drops after the match and comes back: the exchange completes, nothing twice`, async () => {
    const net = await relay(brokerEnv().url);
    const ids = who === 'claimer' ? ['ken', 'dennis'] : ['linus', 'margaret'];
    const a = await terminal(ids[0], who === 'offerer' ? { url: net.url } : {});
    const b = await terminal(ids[1], who === 'claimer' ? { url: net.url } : {});
    const flaky = who === 'offerer' ? a : b;
    const evA = record(a);
    const evB = record(b);
    const { key } = a.offer({ card: card('Ken Thompson') });
    await next(a, 'offer');
    const matched = next(flaky, 'match');
    const offline = next(flaky, 'state', (s) => s.state === 'offline' || s.state === 'reconnecting');
    await b.claim(ids[0], key, { card: card('Dennis Ritchie') });
    await matched;
    net.down();
    await offline;
    await sleep(1500);
    assert.equal(count(evA, 'card') + count(evB, 'card'), 0, 'no card crossed while one side was away');
    const cardA = next(a, 'card', () => true, 20000);
    const cardB = next(b, 'card', () => true, 20000);
    const sentA = next(a, 'sent', () => true, 20000);
    const sentB = next(b, 'sent', () => true, 20000);
    const online = next(flaky, 'state', (s) => s.state === 'online', 20000);
    net.up();
    await online;
    assert.equal(cardFromJcard((await cardA).card).props[0].values[0][0][0], 'Dennis Ritchie');
    assert.equal(cardFromJcard((await cardB).card).props[0].values[0][0][0], 'Ken Thompson');
    assert.equal((await sentA).peer, ids[1]);
    assert.equal((await sentB).peer, ids[0]);
    await sleep(300);
    for (const [ev, name] of [[evA, 'A'], [evB, 'B']]) {
      for (const type of ['match', 'safety', 'card']) assert.equal(count(ev, type), 1, `${name}: one ${type}`);
      assert.equal(count(ev, 'error'), 0, `${name}: no error: ${JSON.stringify(ev.filter((e) => e.type === 'error'))}`);
    }
    const codes = [...evA, ...evB].filter((e) => e.type === 'safety').map((e) => e.code);
    assert.equal(codes[0], codes[1]);
    await a.close();
    await b.close();
    await net.close();
  });
}

test('a claim made while offline goes out when the network is back, once', async () => {
  const net = await relay(brokerEnv().url);
  const a = await terminal('radia');
  const b = await terminal('frances', { url: net.url });
  const evA = record(a);
  const evB = record(b);
  const { key } = a.offer({ card: card('Radia Perlman') });
  await next(a, 'offer');
  const offline = next(b, 'state', (s) => s.state === 'offline' || s.state === 'reconnecting');
  net.down();
  await offline;
  await b.claim('radia', key, { card: card('Frances Allen') });
  await sleep(500);
  assert.equal(count(evA, 'match'), 0);
  const cardB = next(b, 'card', () => true, 20000);
  net.up();
  await cardB;
  await sleep(500);
  assert.equal(count(evA, 'match'), 1);
  assert.equal(count(evB, 'match'), 1);
  assert.equal(count(evA, 'attempt'), 0, 'the resent claim cost no attempt');
  await a.close();
  await b.close();
  await net.close();
});

test('a refused password: auth-failed, no retry', async () => {
  const env = brokerEnv();
  const t = new Terminal({ url: env.url, id: 'ken', password: 'wrong', reconnectPeriod: 200 });
  const states = [];
  t.on('state', (s) => states.push(s.state));
  await assert.rejects(t.connect(), (e) => e.code === 'auth');
  await sleep(800);
  assert.equal(states.filter((s) => s === 'connecting' || s === 'reconnecting').length, 1, states.join(','));
  assert.equal(t.state, 'auth-failed');
  await t.close();
});

test('an unreachable broker: the connection is retried and the call says so', async () => {
  const net = await relay(brokerEnv().url);
  net.down();
  const t = new Terminal({ url: net.url, id: 'dennis', password: brokerEnv().password, connectTimeout: 1500, reconnectPeriod: 300 });
  const retried = next(t, 'state', (s) => s.state === 'reconnecting', 5000);
  await assert.rejects(t.connect(), (e) => e.code === 'disconnected');
  await retried;
  const online = next(t, 'state', (s) => s.state === 'online', 10000);
  net.up();
  await online;
  await t.close();
  await net.close();
});

test('rate limits: the claimer is told when to try again', async () => {
  const t = await terminal('linus');
  let last;
  for (let i = 0; i < 12; i++) {
    const err = next(t, 'error');
    await t.claim('margaret', '000000');
    last = await err;
    if (last.code === 'rate-limited') break;
    assert.equal(last.code, 'no-match');
  }
  assert.equal(last.code, 'rate-limited');
  assert.ok(last.retryAfter > 0 && last.retryAfter <= 60, String(last.retryAfter));
  await t.close();
});

test('an offer nobody claims expires, and says so once', async () => {
  const t = await terminal('margaret');
  const ev = record(t);
  t.offer({ ttl: 5 });
  await next(t, 'offer');
  const expired = await next(t, 'expired', () => true, 9000);
  assert.equal(expired.offer, true);
  await sleep(300);
  assert.equal(count(ev, 'expired'), 1);
  await t.close();
});
