// The page's connection: one core Terminal for the signed-in terminal, and
// the exchanges the screens start on it, each reporting only its own events
// (by the ref of its offer or claim, then by its exchange ID).
import { Terminal } from '../core/terminal.js';
import { idValid, parseUri } from '../core/proto.js';
import { parseVcards, writeVcard, cardFromJcard, cardToJcard } from '../core/card.js';

// What the views need from the core, in one place.
export const core = {
  idValid,
  // {id, key} from a scanned QR code (ours or `cardex offer`'s), or null.
  parseQr(text) {
    try {
      return parseUri(text);
    } catch {
      return null;
    }
  },
  // The jCards in a .vcf file (vCard 2.1, 3.0 or 4.0); throws with the
  // reason when no card in it can be read.
  parseVcards(text) {
    const { cards, errors } = parseVcards(text);
    if (!cards.length && errors.length) throw errors[0];
    return cards.map(cardToJcard);
  },
  // vCard 3.0 text (CRLF, UTF-8) for a phone's address book.
  toVcard3: (jcard) => writeVcard(cardFromJcard(jcard), 3),
};

// The broker's WebSocket URL. ?broker= wins when it is a ws(s) URL. Else the
// page's own host: "/mqtt" on it works both behind a proxy that forwards
// /mqtt (nginx) and on Mosquitto's own websockets listener with http_dir,
// which accepts a WebSocket on any path.
export function brokerUrl(loc, override) {
  if (override && /^wss?:\/\/[^\s/]+(\/\S*)?$/i.test(override)) return override;
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${loc.host || 'localhost'}/mqtt`;
}

class Exchange {
  constructor(session) {
    this.session = session;
    this.fns = [];
    this.ref = '';
    this.xid = '';
    this.over = false;
    this.early = [];
  }

  on(fn) {
    this.fns.push(fn);
    for (const e of this.early.splice(0)) fn(e);
  }

  emit(e) {
    if (this.over) return;
    if (!this.fns.length) {
      this.early.push(e);
      return;
    }
    for (const fn of this.fns) fn(e);
  }

  confirm(accept) {
    if (!this.xid) return;
    Promise.resolve().then(() => this.session.term.confirm(this.xid, accept)).catch((e) => {
      if (accept) this.emit({ type: 'error', code: e.code || 'internal', message: e.message });
    });
  }

  cancel() {
    if (this.xid && !this.over) {
      try { this.session.term.confirm(this.xid, false); } catch { /* over already */ }
    }
    this.over = true;
    this.session.exchanges.delete(this);
  }
}

export function createSession({ url, id, password, device, onStatus }) {
  const term = new Terminal({ url, id, password, suffix: `web-${device}`, confirm: true, reconnectPeriod: 2000, connectTimeout: 8000 });
  const exchanges = new Set();
  let retryTimer = null;
  let nextRetry = 0;

  const mine = (d) => {
    for (const x of exchanges) {
      if ((d.ref && d.ref === x.ref) || (d.exchange && d.exchange === x.xid)) return x;
    }
    return null;
  };

  const status = (state) => {
    if (retryTimer) clearInterval(retryTimer);
    retryTimer = null;
    if (state === 'offline' || state === 'reconnecting') {
      nextRetry = Date.now() + 2000;
      const tick = () => onStatus({ state: 'offline', retryIn: Math.max(0, Math.ceil((nextRetry - Date.now()) / 1000)) });
      tick();
      retryTimer = setInterval(tick, 1000);
    } else if (state === 'online' || state === 'connecting') {
      onStatus({ state, id });
    } else {
      onStatus({ state: 'idle' });
    }
  };

  term.on('state', (d) => {
    session.online = d.state === 'online';
    status(d.state);
    if (d.state === 'auth-failed' && session.onAuthFailed) session.onAuthFailed();
  });
  term.on('offer', (d) => { const x = mine(d); if (x) x.emit({ type: 'offer', key: x.key, expiresIn: d.expiresIn }); });
  term.on('attempt', (d) => { const x = mine(d); if (x) x.emit({ type: 'attempt', attemptsLeft: d.attemptsLeft }); });
  term.on('revoked', (d) => { const x = mine(d); if (x) x.emit({ type: 'revoked', reason: d.reason }); });
  term.on('expired', (d) => {
    const x = mine(d);
    if (x) x.emit({ type: 'expired', what: d.offer ? 'offer' : 'exchange' });
  });
  term.on('match', (d) => {
    const x = mine(d);
    if (!x) return;
    x.xid = d.exchange;
    x.emit({ type: 'match', peer: d.peer, sealed: d.sealed });
  });
  term.on('safety', (d) => { const x = mine(d); if (x) x.emit({ type: 'safety', code: d.code }); });
  term.on('sent', (d) => { const x = mine(d); if (x) x.emit({ type: 'sent', to: d.peer }); });
  term.on('card', (d) => {
    const x = mine(d);
    if (x) x.emit({ type: 'card', card: d.card, from: d.peer, exchange: d.exchange, sealed: d.sealed, verified: d.verified });
  });
  term.on('error', (d) => {
    const x = mine(d);
    if (x) x.emit({ type: 'error', code: d.code, message: d.message, retryAfter: d.retryAfter });
  });

  // A phone that loses its network keeps a dead WebSocket until the MQTT
  // keepalive notices (up to a minute): when the browser says it is offline,
  // drop the connection at once (MQTT.js then retries, and the status says
  // so); when it is back, reconnect without waiting for the next retry.
  const onOffline = () => {
    const c = term.client;
    if (c && c.connected && c.stream) c.stream.destroy();
  };
  const onOnline = () => {
    const c = term.client;
    // reconnect() without the stores would start empty ones and lose what
    // was published while offline (a card confirmed in a tunnel).
    if (c && !c.connected && !c.disconnecting && term.state !== 'auth-failed' && term.state !== 'closed') {
      c.reconnect({ incomingStore: c.incomingStore, outgoingStore: c.outgoingStore });
    }
  };
  window.addEventListener('offline', onOffline);
  window.addEventListener('online', onOnline);

  const session = {
    id,
    term,
    exchanges,
    online: false,
    onAuthFailed: null,

    // Connects; resolves {ok:true} once online, or {ok:false, reason:'auth'|
    // 'unreachable'|'refused', message}. While unreachable the terminal keeps
    // trying in the background until stop(). quick: report 'unreachable' as
    // soon as the first attempt fails (a typed sign-in should not wait for
    // the connect timeout to say the server is not there).
    async start({ quick = false } = {}) {
      status('connecting');
      let off = () => {};
      const failedOnce = new Promise((resolve) => {
        if (!quick) return;
        off = term.on('state', (d) => {
          if (d.state === 'offline' && !term.everConnected) {
            resolve({ ok: false, reason: 'unreachable', message: 'no answer from it' });
          }
        });
      });
      const connected = term.connect().then(() => ({ ok: true }), (e) => {
        const reason = e.code === 'auth' ? 'auth' : e.code === 'state' ? 'refused' : 'unreachable';
        return { ok: false, reason, message: e.message };
      });
      const r = await Promise.race([connected, failedOnce]);
      off();
      return r;
    },

    stop() {
      window.removeEventListener('offline', onOffline);
      window.removeEventListener('online', onOnline);
      for (const x of exchanges) x.over = true;
      exchanges.clear();
      if (retryTimer) clearInterval(retryTimer);
      term.close().catch(() => {});
    },

    offer({ card, ttl }) {
      const x = new Exchange(session);
      // One offer at a time: a new one replaces the last, whose events stop.
      for (const o of exchanges) if (o.kind === 'offer' && !o.xid) o.cancel();
      x.kind = 'offer';
      exchanges.add(x);
      try {
        const r = term.offer({ card, ttl: ttl || 0 });
        x.ref = r.ref;
        x.key = r.key;
      } catch (e) {
        queueMicrotask(() => x.emit({ type: 'error', code: e.code || 'internal', message: e.message }));
      }
      return x;
    },

    claim({ peer, key, card }) {
      const x = new Exchange(session);
      x.kind = 'claim';
      exchanges.add(x);
      term.claim(peer, key, { card }).then((r) => { x.ref = r.ref; },
        (e) => x.emit({ type: 'error', code: e.code || 'internal', message: e.message }));
      return x;
    },
  };
  return session;
}
