// What the tests of web/ share: the broker cardex-web-run started (its
// environment), terminals on it, waiting for events with a deadline, and
// the cardex CLI run as a child process (no shell; the password in
// CARDEX_PASSWORD, the key on standard input, never on the command line).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Terminal } from '../../src/core/index.js';

export function brokerEnv() {
  const need = ['CARDEX_WS_URL', 'CARDEX_HOST', 'CARDEX_PORT', 'CARDEX_TEST_PASSWORD', 'CARDEX_CLI'];
  for (const k of need) {
    if (!process.env[k]) throw new Error(`${k} is not set: run these tests through cardex-web-run (ctest -R web_terminal)`);
  }
  return {
    url: process.env.CARDEX_WS_URL,
    host: process.env.CARDEX_HOST,
    port: process.env.CARDEX_PORT,
    password: process.env.CARDEX_TEST_PASSWORD,
    cli: process.env.CARDEX_CLI,
    data: process.env.CARDEX_TEST_DATA,
  };
}

/** A connected terminal; closed by the caller (or by closeAll). */
const open = new Set();
export async function terminal(id, options = {}) {
  const env = brokerEnv();
  const t = new Terminal({ url: env.url, id, password: env.password, ...options });
  open.add(t);
  await t.connect();
  return t;
}

export async function closeAll() {
  for (const t of open) await t.close();
  open.clear();
}

/**
 * Resolves with the detail of the next event of type on t that satisfies
 * pred, or rejects after ms, naming what did come.
 */
export function next(t, type, pred = () => true, ms = 10000) {
  return new Promise((resolve, reject) => {
    const seen = [];
    const all = t.on('*', (ty, d) => seen.push(`${ty}:${d && (d.code || d.state || '')}`));
    const off = t.on(type, (d) => {
      if (!pred(d)) return;
      clearTimeout(timer);
      off();
      all();
      resolve(d);
    });
    const timer = setTimeout(() => {
      off();
      all();
      reject(new Error(`no ${type} event on ${t.id} within ${ms} ms (saw ${seen.join(', ') || 'nothing'})`));
    }, ms);
  });
}

/** Collects every event of t into an array (for checks that something did not happen). */
export function record(t) {
  const events = [];
  t.on('*', (type, d) => events.push({ type, ...d }));
  return events;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the cardex CLI: { proc, lines (async iterator of parsed --json
 * lines), next(event, ms), done (Promise of { code, stdout, stderr }) }.
 * home: a private XDG home (contacts, profiles). stdin null: left open for
 * the caller to write (proc.stdin).
 */
export function cli(args, { id, stdin = '', home, password } = {}) {
  const env = brokerEnv();
  const childEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CONFIG_HOME: join(home, 'config'),
    NO_COLOR: '1',
    CARDEX_HOST: env.host,
    CARDEX_PORT: env.port,
    CARDEX_PASSWORD: password === undefined ? env.password : password,
  };
  if (id) childEnv.CARDEX_ID = id;
  const proc = spawn(env.cli, args, { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const queue = [];
  const waiters = [];
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    stdout += d;
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let obj;
      try {
        obj = JSON.parse(line);
      } catch {
        obj = { event: 'text', line };
      }
      queue.push(obj);
      for (const w of [...waiters]) w();
    }
  });
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise((resolve) => {
    proc.on('close', (code, signal) => {
      for (const w of [...waiters]) w();
      resolve({ code: code === null ? 128 : code, signal, stdout, stderr });
    });
  });
  proc.stdin.on('error', () => {}); // a CLI that ended before reading it all
  if (stdin !== null) proc.stdin.end(stdin);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60000);
  done.then(() => clearTimeout(timer));
  let closed = false;
  done.then(() => {
    closed = true;
  });
  /** The next --json object whose event is `event`, within ms. */
  const nextEvent = (event, ms = 15000) => new Promise((resolve, reject) => {
    const check = () => {
      const i = queue.findIndex((o) => o.event === event);
      if (i >= 0) {
        const [o] = queue.splice(i, 1);
        cleanup();
        resolve(o);
        return true;
      }
      if (closed) {
        cleanup();
        reject(new Error(`cardex ${args[0]} ended without a ${event} event; stdout: ${stdout} stderr: ${stderr}`));
        return true;
      }
      return false;
    };
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${event} from cardex ${args[0]} within ${ms} ms; stdout: ${stdout} stderr: ${stderr}`));
    }, ms);
    const cleanup = () => {
      clearTimeout(t);
      const k = waiters.indexOf(check);
      if (k >= 0) waiters.splice(k, 1);
    };
    if (!check()) waiters.push(check);
  });
  return { proc, next: nextEvent, done, output: () => ({ stdout, stderr }) };
}

/** A private home for a CLI; remove it with rm(). */
export function home() {
  const dir = mkdtempSync(join(tmpdir(), 'cardex-web-'));
  return { dir, rm: () => rmSync(dir, { recursive: true, force: true }) };
}
