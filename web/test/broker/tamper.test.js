// A page facing a peer (or a server) that does not play by §8: a key that
// does not match its commitment, a sealed card that fails authentication, a
// card in plaintext, a peer that does not seal. The peer here is a raw MQTT
// client speaking the protocol by hand, so that it can send what a terminal
// never would. The page says what happened, sends nothing more and keeps
// nothing (docs/protocol.md §8.5).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { cardToJcard, newCard } from '../../src/core/index.js';
import { decodeReply, encodeClaim, encodePk, encodeSealed, newRef } from '../../src/core/proto.js';
import { Seal } from '../../src/core/seal.js';
import { brokerEnv, closeAll, next, record, sleep, terminal } from '../lib/env.js';

after(closeAll);

/* A hand-driven peer: publish raw payloads, wait for its replies. */
async function rawPeer(id) {
  const env = brokerEnv();
  const c = mqtt.connect(env.url, { username: id, password: env.password, clientId: `${id}:raw`, clean: true, protocolVersion: 4 });
  await new Promise((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  await c.subscribeAsync(`reply/${id}`, { qos: 1 });
  const replies = [];
  const waiters = [];
  c.on('message', (t, p) => {
    const r = decodeReply(p);
    if (!r) return;
    replies.push(r);
    for (const w of [...waiters]) w();
  });
  return {
    send: (topic, payload) => c.publishAsync(topic, payload, { qos: 1 }),
    reply: (type, ms = 10000) => new Promise((resolve, reject) => {
      const check = () => {
        const i = replies.findIndex((r) => r.type === type);
        if (i < 0) return false;
        const [r] = replies.splice(i, 1);
        clearTimeout(timer);
        waiters.splice(waiters.indexOf(check), 1);
        resolve(r);
        return true;
      };
      const timer = setTimeout(() => reject(new Error(`no ${type} reply for ${id}`)), ms);
      waiters.push(check);
      check();
    }),
    close: () => c.endAsync(),
  };
}

const adaCard = () => cardToJcard(newCard('Ada Lovelace', { tel: '+44 20 7946 0000' }));

/* The page offers; the raw peer claims with a commitment to `committed` and returns the match. */
async function matched(pageId, peerId, committed) {
  const page = await terminal(pageId);
  const events = record(page);
  const { key } = page.offer({ card: adaCard() });
  await next(page, 'offer');
  const peer = await rawPeer(peerId);
  const commit = committed ? await committed.commitB64() : undefined;
  await peer.send(`claim/${pageId}`, encodeClaim({ key, from: peerId, ref: newRef(), commit }));
  const m = await peer.reply('match');
  return { page, events, peer, xid: m.exchange };
}

test("a key that does not match the claimer's commitment: altered, and the page's card never leaves", async () => {
  const committed = await Seal.create('claimer', 'mallory', 'ada');
  const other = await Seal.create('claimer', 'mallory', 'ada');
  const { page, events, peer, xid } = await matched('ada', 'mallory', committed);
  const pk = await peer.reply('pk');
  assert.equal(pk.peer, 'ada');
  const altered = next(page, 'error', (e) => e.code === 'altered');
  await peer.send('card/ada', encodePk(xid, other.pkB64));
  const e = await altered;
  assert.match(e.message, /does not match its commitment/);
  await sleep(500);
  assert.ok(!events.some((ev) => ev.type === 'safety' || ev.type === 'sent' || ev.type === 'card'));
  await assert.rejects(peer.reply('card', 800), 'no card reached the peer');
  await page.close();
  await peer.close();
});

test('a sealed card that fails authentication: altered, nothing kept', async () => {
  const seal = await Seal.create('claimer', 'grace', 'alan');
  const { page, events, peer, xid } = await matched('alan', 'grace', seal);
  const pk = await peer.reply('pk');
  const code = await seal.agree(xid, pk.pk);
  const safety = next(page, 'safety');
  await peer.send('card/alan', encodePk(xid, seal.pkB64));
  assert.equal((await safety).code, code, 'the hand-driven peer computes the same code');
  const sealed = await peer.reply('card');
  assert.ok(sealed.ct, "the page's card came sealed");
  assert.match(await seal.open(sealed.n, sealed.ct), /Ada Lovelace/);
  const good = await seal.seal(JSON.stringify(adaCard()));
  const bytes = Buffer.from(good.ct, 'base64url');
  bytes[3] ^= 0x40;
  const altered = next(page, 'error', (e) => e.code === 'altered');
  await peer.send('card/alan', encodeSealed(xid, good.n, bytes.toString('base64url')));
  assert.match((await altered).message, /failed authentication/);
  await sleep(300);
  assert.ok(!events.some((ev) => ev.type === 'card'), 'nothing of it was kept');
  await page.close();
  await peer.close();
});

test('a peer that does not seal: the page sends no card in plaintext and takes none', async () => {
  // The peer claims without a commitment: the page does not send its card in plaintext.
  const { page, events, peer, xid } = await matched('edsger', 'barbara', null);
  const notSealed = events.find((e) => e.type === 'error' && e.code === 'not-sealed')
    || await next(page, 'error', (e) => e.code === 'not-sealed');
  assert.equal(notSealed.exchange, xid);
  const refused = next(page, 'error', (e) => e.code === 'not-sealed' && /plaintext/.test(e.message));
  await peer.send('card/edsger', `{"exchange":"${xid}","card":${JSON.stringify(adaCard())}}`);
  await refused;
  await sleep(500);
  assert.ok(!events.some((e) => e.type === 'card' || e.type === 'sent'));
  await assert.rejects(peer.reply('card', 500));
  await page.close();
  await peer.close();
});

test('both sides allow plaintext: the exchange goes on in plaintext, said as such', async () => {
  const a = await terminal('ken', { allowPlain: true });
  const b = await terminal('dennis', { allowPlain: true });
  const { key } = a.offer({ card: adaCard() });
  await next(a, 'offer');
  const cardA = next(a, 'card');
  const cardB = next(b, 'card');
  const matchA = next(a, 'match');
  await b.claim('ken', key, { card: cardToJcard(newCard('Dennis Ritchie')), sealed: false });
  assert.equal((await matchA).sealed, false);
  assert.equal((await cardA).sealed, false);
  assert.equal((await cardB).sealed, false);
  await a.close();
  await b.close();
});
