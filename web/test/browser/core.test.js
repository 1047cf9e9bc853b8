// The protocol core in a real browser (Debian's Chromium, driven by
// playwright-core), built with the page's own esbuild options, served by
// Mosquitto's http_dir (no Content-Type: a classic script), speaking MQTT
// over WebSockets to the broker: sealed exchanges in both directions with
// a Node terminal, WebCrypto's X25519 in the browser against Node's, and no
// request to any other host.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { pageOptions } from '../../build-options.mjs';
import { cardFromJcard, cardToJcard, newCard } from '../../src/core/index.js';
import { brokerEnv, closeAll, next, terminal } from '../lib/env.js';

const here = dirname(fileURLToPath(import.meta.url));
let browser;
let page;
const foreign = [];

before(async () => {
  const www = process.env.CARDEX_HTTP_DIR;
  assert.ok(www, 'CARDEX_HTTP_DIR is not set: run through cardex-web-run --http-dir');
  const dir = join(www, 'core-test');
  mkdirSync(dir, { recursive: true });
  await esbuild.build({ ...pageOptions(), entryPoints: { core: join(here, 'entry.js') }, outdir: dir });
  copyFileSync(join(here, 'index.html'), join(dir, 'index.html'));
  browser = await chromium.launch({
    executablePath: process.env.CARDEX_CHROMIUM || '/usr/bin/chromium',
    args: ['--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  const own = new URL(process.env.CARDEX_HTTP_URL).host;
  const check = (url) => {
    if (new URL(url).host !== own) foreign.push(url);
  };
  page.on('request', (r) => check(r.url()));
  page.on('websocket', (w) => check(w.url()));
  await page.goto(`${process.env.CARDEX_HTTP_URL}core-test/`);
  await page.waitForFunction(() => !!globalThis.cardexCore, null, { timeout: 10000 }).catch((e) => {
    throw new Error(`the core did not load: ${problems.join('; ') || e.message}`);
  });
});

after(async () => {
  await closeAll();
  if (browser) await browser.close();
});

/* Runs an exchange step in the page: a Terminal there, its events collected. */
async function pageTerminal(id) {
  const env = brokerEnv();
  await page.evaluate(async ({ url, id: tid, password }) => {
    const { Terminal } = globalThis.cardexCore;
    const t = new Terminal({ url, id: tid, password });
    globalThis.events = globalThis.events || {};
    globalThis.terms = globalThis.terms || {};
    globalThis.events[tid] = [];
    t.on('*', (type, d) => globalThis.events[tid].push({ type, ...d }));
    globalThis.terms[tid] = t;
    await t.connect();
  }, { url: env.url, id, password: env.password });
}

const pageEvent = (id, type, ms = 15000) => page.waitForFunction(
  ({ tid, ty }) => (globalThis.events[tid] || []).find((e) => e.type === ty) || null,
  { tid: id, ty: type }, { timeout: ms },
).then((h) => h.jsonValue());

test('the page can seal: X25519 in this Chromium', async () => {
  assert.equal(await page.evaluate(() => globalThis.cardexCore.x25519Supported()), true);
});

test('the page offers, a Node terminal claims: sealed, same code, cards intact', async () => {
  await pageTerminal('ada');
  const pageCard = cardToJcard(newCard('Ada Lovelace', { tel: '+44 20 7946 0000', note: 'Zoë ✓' }));
  const offered = await page.evaluate(async (card) => {
    const t = globalThis.terms.ada;
    return t.offer({ card });
  }, pageCard);
  assert.match(offered.key, /^[0-9]{6}$/);
  await pageEvent('ada', 'offer');
  const g = await terminal('grace');
  const safety = next(g, 'safety');
  const card = next(g, 'card');
  const nodeCard = cardToJcard(newCard('Grace Hopper', { email: 'grace@example.org' }));
  await g.claim('ada', offered.key, { card: nodeCard });
  const s = await safety;
  assert.equal((await pageEvent('ada', 'safety')).code, s.code);
  assert.deepEqual(cardFromJcard((await card).card), cardFromJcard(pageCard));
  const got = await pageEvent('ada', 'card');
  assert.equal(got.sealed, true);
  assert.deepEqual(cardFromJcard(got.card), cardFromJcard(nodeCard));
  await g.close();
});

test('a Node terminal offers, the page claims from the QR payload', async () => {
  await pageTerminal('alan');
  const e = await terminal('edsger');
  const { key } = e.offer({ card: cardToJcard(newCard('Edsger Dijkstra')) });
  await next(e, 'offer');
  const card = next(e, 'card');
  await page.evaluate(async (uri) => {
    const { parseUri, cardToJcard: toJ, newCard: nc } = globalThis.cardexCore;
    const { id, key: k } = parseUri(uri);
    await globalThis.terms.alan.claim(id, k, { card: toJ(nc('Alan Turing')) });
  }, `cardex:edsger/${key}`);
  const got = await pageEvent('alan', 'card');
  assert.equal(cardFromJcard(got.card).props[0].values[0][0][0], 'Edsger Dijkstra');
  assert.equal(cardFromJcard((await card).card).props[0].values[0][0][0], 'Alan Turing');
  await e.close();
});

test('keepalive on the window\'s timers: an idle page stays connected', async () => {
  const env = brokerEnv();
  const states = await page.evaluate(async ({ url, password }) => {
    const { Terminal } = globalThis.cardexCore;
    // keepalive 1 s: without a PINGREQ the broker closes the connection after 1.5 s.
    const t = new Terminal({ url, id: 'barbara', password, mqtt: { keepalive: 1 } });
    const seen = [];
    t.on('state', (s) => seen.push(s.state));
    await t.connect();
    await new Promise((r) => setTimeout(r, 4000));
    await t.close();
    return seen;
  }, { url: env.url, password: env.password });
  assert.deepEqual(states, ['connecting', 'online', 'closed']);
});

test('nothing was fetched from any other host', () => {
  assert.deepEqual(foreign, []);
});
