// How long a card takes from the broker to a browser over WebSockets, by
// size (docs/benchmarks.md, "Cards to a browser over WebSockets").
//
// Run it through scripts/bench-websockets, which starts the broker (the
// integration harness, through cardex-web-run) and passes its ports in the
// environment. Terminal "a" is a Node MQTT client on the plain listener;
// terminal "b" is Chromium (Debian's, driven by playwright-core) running
// MQTT.js over the websockets listener, or Node over the same listener with
// --client node. For each size, "a" offers, "b" claims, and the time is
// taken from a's PUBLISH of its card to the moment the browser has the
// card reply, once with the browser idle and once with it sending an MQTT
// PINGREQ every --nudge milliseconds while it waits (what wakes Mosquitto
// 2.0.11's main loop: see the document).
//
// Options: --sizes 1,4,16,64 (KiB of the card request's payload),
// --runs 5, --nudge 5 (ms; 0: measure idle only), --client chromium|node,
// --json (one JSON object instead of the table). The first run of each
// size and mode is a warm-up and is not counted (unless --runs 1).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomInt } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = process.env.CARDEX_WEB_DIR || join(root, 'web');
const need = createRequire(join(web, 'package.json'));
const mqtt = need('mqtt');

function parseArgs(argv) {
  const o = { sizes: [1, 4, 16, 64], runs: 5, nudge: 5, client: null, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--sizes') o.sizes = val().split(',').map(Number);
    else if (a === '--runs') o.runs = Number(val());
    else if (a === '--nudge') o.nudge = Number(val());
    else if (a === '--client') o.client = val();
    else if (a === '--json') o.json = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (o.sizes.some((s) => !(s > 0 && s <= 1000))) throw new Error('--sizes: KiB from 1 to 1000');
  if (!(o.runs >= 1 && o.runs <= 100)) throw new Error('--runs: 1 to 100');
  if (o.runs > 1) o.runs++;
  if (!(o.nudge >= 0 && o.nudge <= 1000)) throw new Error('--nudge: 0 to 1000 ms');
  if (o.client === null) {
    o.client = existsSync('/usr/bin/chromium') && existsSync(join(web, 'node_modules/playwright-core')) ? 'chromium' : 'node';
  }
  if (!['chromium', 'node'].includes(o.client)) throw new Error('--client: chromium or node');
  return o;
}

const env = (name) => {
  if (!process.env[name]) throw new Error(`${name} is not set: run this through scripts/bench-websockets`);
  return process.env[name];
};

// A card whose request payload ({"exchange":...,"card":...}) is kib KiB: a
// note of random base64, as a photo would be.
function cardOfSize(kib, xid) {
  const card = (note) => ['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'text', 'Bench Card'],
    ['note', {}, 'text', note]]];
  const overhead = JSON.stringify({ exchange: xid, card: card('') }).length;
  const n = Math.max(0, kib * 1024 - overhead);
  const note = randomBytes(Math.ceil((n * 3) / 4) + 3).toString('base64').slice(0, n);
  return JSON.stringify({ exchange: xid, card: card(note) });
}

// Terminal "a": the replies it gets, and waiting for one of a type.
function terminal(client, id) {
  const replies = [];
  let wake = () => {};
  client.on('message', (_t, p) => {
    replies.push(JSON.parse(p.toString('utf8')));
    wake();
  });
  return {
    async next(type, ms = 10000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = replies.findIndex((r) => r.type === type || r.type === 'error');
        if (i >= 0) {
          const r = replies.splice(i, 1)[0];
          if (r.type === 'error') throw new Error(`${id}: error ${r.code} (${r.message})`);
          return r;
        }
        if (Date.now() > deadline) throw new Error(`${id}: no ${type} reply within ${ms} ms`);
        await new Promise((res) => { wake = res; setTimeout(res, 50); });
      }
    },
  };
}

// Requests are answered on reply topics, never routed: MQTT 5 says "not authorised" (135) in the PUBACK.
const request = (client, topic, body) => new Promise((resolve, reject) => {
  client.publish(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 }, (err) => {
    if (err && err.code !== 135) reject(err);
    else resolve();
  });
});

// The browser side: MQTT.js's browser build in a blank page, the card reply reported to Node.
async function browserTerminal(url, password, onCard) {
  const { chromium } = need('playwright-core');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const page = await browser.newPage();
  const fetched = [];
  // Nothing leaves for another host (MQTT.js makes its timer worker from a blob: URL).
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['blob:', 'data:'].includes(u.protocol) && u.hostname !== '127.0.0.1') fetched.push(r.url());
  });
  await page.exposeFunction('cardArrived', onCard);
  await page.addScriptTag({ path: join(web, 'node_modules/mqtt/dist/mqtt.min.js') });
  await page.evaluate(async ({ url, password }) => {
    const client = window.mqtt.connect(url, { clientId: 'b:bench', username: 'b', password, protocolVersion: 5,
      reconnectPeriod: 0 });
    await new Promise((res, rej) => { client.once('connect', res); client.once('error', rej); });
    await client.subscribeAsync('reply/b', { qos: 1 });
    window.bench = { client, nudge: 0, timer: null, matches: [] };
    client.on('message', (_t, p) => {
      const r = JSON.parse(new TextDecoder().decode(p));
      if (r.type === 'card') {
        clearInterval(window.bench.timer);
        window.cardArrived(p.length, performance.timeOrigin + performance.now());
      } else if (r.type === 'match') {
        window.bench.matches.push(r.exchange);
        // Waiting for the peer's card: wake the broker's loop until it is here.
        if (window.bench.nudge > 0) window.bench.timer = setInterval(() => client.sendPing(), window.bench.nudge);
      }
    });
  }, { url, password });
  return {
    async claim(key, ref, nudge) {
      await page.evaluate(({ key, ref, nudge }) => {
        window.bench.nudge = nudge;
        window.bench.client.publish('claim/a', JSON.stringify({ key, from: 'b', ref }), { qos: 1 });
      }, { key, ref, nudge });
    },
    async close() {
      await browser.close();
      if (fetched.length) throw new Error(`the page fetched ${fetched.join(', ')}`);
    },
  };
}

// The same over Node's WebSocket, for machines without Chromium.
async function nodeTerminal(url, password, onCard) {
  const client = mqtt.connect(url, { clientId: 'b:bench', username: 'b', password, protocolVersion: 5,
    reconnectPeriod: 0 });
  await new Promise((res, rej) => { client.once('connect', res); client.once('error', rej); });
  await client.subscribeAsync('reply/b', { qos: 1 });
  let nudge = 0;
  let timer = null;
  client.on('message', (_t, p) => {
    const r = JSON.parse(p.toString('utf8'));
    if (r.type === 'card') {
      clearInterval(timer);
      onCard(p.length, performance.timeOrigin + performance.now());
    } else if (r.type === 'match' && nudge > 0) {
      timer = setInterval(() => client.sendPing(), nudge);
    }
  });
  return {
    async claim(key, ref, n) {
      nudge = n;
      client.publish('claim/a', JSON.stringify({ key, from: 'b', ref }), { qos: 1 }, () => {});
    },
    close: () => client.endAsync(),
  };
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const password = env('CARDEX_TEST_PASSWORD');
  const a = mqtt.connect(`mqtt://${env('CARDEX_HOST')}:${env('CARDEX_PORT')}`, { clientId: 'a', username: 'a',
    password, protocolVersion: 5, reconnectPeriod: 0 });
  await new Promise((res, rej) => { a.once('connect', res); a.once('error', rej); });
  // Without it a's card can wait for the broker's delayed ACK (Nagle), some 40 ms.
  a.stream.setNoDelay(true);
  // QoS 0: a's PUBACKs would wake the broker's loop during the delivery measured (see the document).
  await a.subscribeAsync('reply/a', { qos: 0 });
  const ta = terminal(a, 'a');

  let arrived = null;
  // The arrival time is taken where the card arrives, on the wall clock both processes share.
  const onCard = (bytes, at) => { if (arrived) arrived({ bytes, at }); };
  const b = o.client === 'chromium' ? await browserTerminal(env('CARDEX_WS_URL'), password, onCard)
    : await nodeTerminal(env('CARDEX_WS_URL'), password, onCard);

  const modes = o.nudge > 0 ? [0, o.nudge] : [0];
  const rows = [];
  let ref = 0;
  for (const kib of o.sizes) {
    const row = { kib, bytes: 0 };
    for (const nudge of modes) {
      const times = [];
      for (let run = 0; run < o.runs; run++) {
        const key = String(randomInt(0, 1e8)).padStart(8, '0');
        await request(a, 'keys/a', { key, ttl: 60, ref: `o${++ref}` });
        await ta.next('offer');
        await b.claim(key, `c${ref}`, nudge);
        const match = await ta.next('match');
        const payload = cardOfSize(kib, match.exchange);
        const got = new Promise((res) => { arrived = res; });
        const t0 = performance.timeOrigin + performance.now();
        await request(a, 'card/b', payload);
        const { bytes, at } = await Promise.race([got,
          new Promise((_r, rej) => setTimeout(() => rej(new Error(`no card of ${kib} KiB within 60 s`)), 60000))]);
        if (run > 0 || o.runs === 1) times.push(at - t0);
        row.bytes = bytes;
        await ta.next('sent');
      }
      row[nudge === 0 ? 'idle' : 'nudged'] = { median: median(times), min: Math.min(...times), max: Math.max(...times) };
    }
    rows.push(row);
  }
  await b.close();
  await a.endAsync();

  if (o.json) {
    console.log(JSON.stringify({ client: o.client, runs: o.runs > 1 ? o.runs - 1 : 1, nudge_ms: o.nudge, rows }));
    return;
  }
  const f = (x) => x.toFixed(1);
  console.log(`cards from the broker to ${o.client === 'chromium' ? 'Chromium' : 'Node'} over WebSockets, ` +
    `${o.runs > 1 ? o.runs - 1 : 1} runs each (ms: median, min-max)`);
  const head = ['| card | reply bytes | idle client |'];
  if (o.nudge > 0) head.push(` PINGREQ every ${o.nudge} ms |`);
  console.log(head.join(''));
  console.log(o.nudge > 0 ? '|---:|---:|---:|---:|' : '|---:|---:|---:|');
  for (const r of rows) {
    let line = `| ${r.kib} KiB | ${r.bytes} | ${f(r.idle.median)} (${f(r.idle.min)}-${f(r.idle.max)}) |`;
    if (r.nudged) line += ` ${f(r.nudged.median)} (${f(r.nudged.min)}-${f(r.nudged.max)}) |`;
    console.log(line);
  }
}

main().catch((e) => {
  console.error(`bench/websockets.mjs: ${e.message}`);
  process.exit(1);
});
