// A cardex terminal over MQTT over WebSockets (MQTT.js): the browser's
// libcardex. The connection follows docs/protocol.md §1 (username = terminal
// ID, client ID "<id>" or "<id>:<suffix>", a persistent session and a QoS 1
// subscription to reply/<id>); replies pass the filter of filter.js; sealed
// exchanges (§8) run as client/e2e.c runs them: our key goes out when due,
// keys are agreed and the safety code reported, sealed cards are opened or
// refused, our card goes out sealed once the keys are agreed and, in confirm
// mode, the user accepted the code.

import mqtt from 'mqtt';
import { ReplyFilter } from './filter.js';
import { compactJcard, jcardProblem } from './jcard.js';
import {
  clientId, decodeReply, encodeCard, encodeClaim, encodeOffer, encodePk, encodeSealed, generateKey,
  groupCode, idValid, keyValid, newRef, prefixValid, topic, CARD_TEXT_MAX, PAYLOAD_MAX,
} from './proto.js';
import { Seal, SealError } from './seal.js';

const ALTERED_KEY = "the server altered this exchange: the peer's key does not match its commitment; nothing was sent";
const ALTERED_BADKEY = "the server altered this exchange: the peer's key is not a valid key; nothing was sent";
const ALTERED_CARD = 'the server altered this exchange: a sealed card failed authentication; nothing was saved';
const ALTERED_EARLY = 'the server altered this exchange: a sealed card came before the keys; nothing was saved';
const ALTERED_PLAIN = 'the server altered this exchange: a plaintext card came in a sealed exchange; nothing was saved';
const NOT_SEALED_MATCH = 'the peer does not seal this exchange: no card is sent or accepted in plaintext (allow plaintext to go on)';
const NOT_SEALED_CARD = 'the peer sent its card in plaintext: it was not accepted, and no card was sent (allow plaintext to go on)';

/** An error of a Terminal call: code "invalid", "state", "disconnected", "auth", "too-large", "aborted", "plain", "unsupported". */
export class TerminalError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/* MQTT 3.1.1 CONNACK refusals that retrying cannot cure: 2 identifier rejected, 4 bad user/password, 5 not authorised. */
const AUTH_CODES = new Set([2, 4, 5]);
const WAKE_PERIOD_MS = 5; // see Terminal.wake()
const WAKE_MS = 5000;

export class Terminal {
  /**
   * options: url (ws:// or wss://, e.g. "wss://example.org/mqtt"), id,
   * password, suffix (client ID "<id>:<suffix>"; default: a random one, so
   * that each page is its own session beside the CLI's), prefix (the
   * plugin's topic_prefix), allowPlain (false), confirm (false),
   * connectTimeout (ms, 10000), reconnectPeriod (ms, 1000), mqtt (extra
   * MQTT.js options, for tests).
   */
  constructor(options) {
    const o = options || {};
    if (typeof o.url !== 'string' || !/^wss?:\/\//i.test(o.url)) throw new TerminalError('invalid', 'the broker URL must start with ws:// or wss://');
    if (!idValid(o.id)) throw new TerminalError('invalid', 'a terminal ID is 1 to 64 of A-Z a-z 0-9 . _ -');
    const prefix = o.prefix || '';
    if (!prefixValid(prefix)) throw new TerminalError('invalid', "the topic prefix must end in '/' and hold no wildcard");
    this.url = o.url;
    this.id = o.id;
    this.prefix = prefix;
    this.clientId = clientId(o.id, o.suffix === undefined ? `web-${newRef().slice(0, 8)}` : o.suffix);
    this.allowPlain = !!o.allowPlain;
    this.confirmMode = !!o.confirm;
    this.connectTimeout = o.connectTimeout || 10000;
    this.reconnectPeriod = o.reconnectPeriod === undefined ? 1000 : o.reconnectPeriod;
    this.replyTopic = topic(prefix, 'reply', o.id);
    this.filter = new ReplyFilter(prefix);
    this.state = 'idle';
    this.listeners = new Map();
    this.chain = Promise.resolve();
    this.claimsOpen = new Map(); // ref -> { peer, payload (holds the key), failed } until answered
    this.offerOpen = null; // { ref, key, card }
    this.cards = new Map(); // ref -> card text to send at the match
    this.client = null;
    this.password = o.password === undefined ? '' : String(o.password);
    this.extra = o.mqtt || {};
    this.everConnected = false;
    this.wakeUntil = 0; // see wake()
    this.wakeTimer = null;
  }

  // ---- events ----

  /** Calls fn(detail) for each event of type ("*": every event, fn(type, detail)). Returns an unsubscribe function. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    const s = this.listeners.get(type);
    if (s) s.delete(fn);
  }

  emit(type, detail) {
    for (const fn of this.listeners.get(type) || []) {
      try {
        fn(detail);
      } catch (e) {
        queueMicrotask(() => { throw e; });
      }
    }
    for (const fn of this.listeners.get('*') || []) {
      try {
        fn(type, detail);
      } catch (e) {
        queueMicrotask(() => { throw e; });
      }
    }
  }

  setState(state, detail = {}) {
    if (this.state === state && !detail.error) return;
    this.state = state;
    this.emit('state', { state, ...detail });
  }

  // ---- connection ----

  /**
   * Connects and subscribes. Resolves once the reply topic is subscribed;
   * rejects with TerminalError "auth" (ID or password refused: no retry),
   * "disconnected" (no answer within connectTimeout; the terminal keeps
   * trying in the background, see the "state" events) or "state" (the
   * subscription was refused: this client ID has no terminal identity).
   * After "auth" or "state" it may be called again.
   */
  connect() {
    if (this.client) throw new TerminalError('state', 'already connected');
    this.setState('connecting');
    const client = mqtt.connect(this.url, {
      protocolVersion: 4,
      clean: false,
      clientId: this.clientId,
      username: this.id,
      password: this.password,
      keepalive: 30,
      connectTimeout: this.connectTimeout,
      reconnectPeriod: this.reconnectPeriod,
      resubscribe: false,
      queueQoSZero: false,
      ...this.extra,
    });
    this.client = client;
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(this);
      };
      const timer = setTimeout(() => done(new TerminalError('disconnected', 'the broker did not answer in time')), this.connectTimeout);
      client.on('connect', () => {
        client.subscribe(this.replyTopic, { qos: 1 }, (err, granted) => {
          if (err || !granted || !granted[0] || granted[0].qos > 2) {
            const e = new TerminalError('state', 'the broker refused the reply subscription: this client has no terminal identity');
            this.setState('refused', { error: e });
            this.drop(client);
            done(e);
            return;
          }
          const again = this.everConnected;
          this.everConnected = true;
          this.setState('online');
          if (again) this.resendClaims();
          this.pump();
          done();
        });
      });
      client.on('message', (t, payload) => {
        if (t !== this.replyTopic) return;
        const r = decodeReply(payload);
        if (r) this.serial(() => this.onReply(r));
      });
      client.on('error', (err) => {
        if (err && AUTH_CODES.has(err.code)) {
          const e = new TerminalError('auth', 'the broker refused the terminal ID or password');
          this.setState('auth-failed', { error: e });
          this.drop(client);
          done(e);
        }
      });
      client.on('close', () => {
        if (this.state === 'online') this.setState('offline');
      });
      client.on('reconnect', () => {
        if (this.state !== 'auth-failed' && this.state !== 'closed') this.setState('reconnecting');
      });
      client.on('offline', () => {
        if (this.state !== 'auth-failed' && this.state !== 'closed') this.setState('offline');
      });
    });
  }

  /* Ends a client that cannot go on (no retry); connect() may be called again. */
  drop(client) {
    client.end(true);
    if (this.client === client) this.client = null;
  }

  /** Disconnects (the session stays on the broker) and forgets every secret. */
  async close() {
    if (this.wakeTimer) clearInterval(this.wakeTimer);
    this.wakeTimer = null;
    for (const x of this.filter.xs.values()) this.release(x);
    for (const c of this.filter.claims) c.ctx = null;
    this.claimsOpen.clear();
    this.offerOpen = null;
    this.cards.clear();
    this.password = '';
    this.setState('closed');
    if (this.client) {
      const c = this.client;
      this.client = null;
      await new Promise((resolve) => c.end(false, {}, () => resolve()));
    }
  }

  get connected() {
    return !!(this.client && this.client.connected);
  }

  /* Runs fn after everything queued before it: replies are handled one at a time, in order. */
  serial(fn) {
    const p = this.chain.then(fn);
    this.chain = p.catch((e) => this.emit('error', { code: 'internal', message: String(e && e.message || e) }));
    return p;
  }

  /*
   * Publishes at QoS 1 (while offline MQTT.js keeps it and sends it after
   * the reconnect). Throws TerminalError "too-large" or "disconnected" at
   * once; the Promise says whether the broker acknowledged it.
   */
  publish(kind, id, payload) {
    if (!this.client) throw new TerminalError('disconnected', 'not connected');
    if (new TextEncoder().encode(payload).length > PAYLOAD_MAX) {
      throw new TerminalError('too-large', 'the message is larger than the server accepts (64 KiB)');
    }
    const t = topic(this.prefix, kind, id);
    return new Promise((resolve) => {
      this.client.publish(t, payload, { qos: 1 }, (err) => resolve(!err));
    });
  }

  // ---- requests ----

  /**
   * Offers an instant key: generated here (digits 6..16, default 6) unless
   * key is given. ttl in seconds (5..600; 0 or absent: the server's
   * default). card (jCard value or text, optional) goes to the peer after
   * the match. Returns { key, ref, uri-ready id }. A new offer replaces the
   * pending one, whose events are no longer reported.
   */
  offer({ digits = 6, ttl = 0, key, card } = {}) {
    const k = key === undefined ? generateKey(digits) : key;
    if (!keyValid(k)) throw new TerminalError('invalid', 'the key must be 6 to 16 digits');
    const ref = newRef();
    let payload;
    try {
      payload = encodeOffer({ key: k, ttl, ref });
    } catch (e) {
      throw new TerminalError('invalid', e.message);
    }
    const text = card === undefined ? null : this.checkCard(card);
    if (!this.client) throw new TerminalError('disconnected', 'not connected');
    if (this.offerOpen) this.cards.delete(this.offerOpen.ref);
    this.filter.newOffer(ref);
    this.offerOpen = { ref };
    if (text) this.cards.set(ref, text);
    this.publish('keys', this.id, payload);
    return { key: k, ref, id: this.id };
  }

  /**
   * Claims the offer of peerId with key (blanks are ignored: "483 920").
   * Sealed unless the page allows plaintext and sealed is false. card as
   * for offer. Returns a Promise of { ref } once the claim is on its way;
   * the answer is a "match" or an "error" event. An unanswered claim is
   * sent again after a reconnect, with the same ref (the server answers a
   * repeat as the first, without counting it).
   */
  async claim(peerId, key, { card, sealed = true } = {}) {
    const k = typeof key === 'string' ? key.replace(/[\s]/g, '') : '';
    if (!idValid(peerId)) throw new TerminalError('invalid', 'a terminal ID is 1 to 64 of A-Z a-z 0-9 . _ -');
    if (!keyValid(k)) throw new TerminalError('invalid', 'the key must be 6 to 16 digits');
    if (peerId === this.id) throw new TerminalError('invalid', 'this is your own terminal ID');
    if (!this.client) throw new TerminalError('disconnected', 'not connected');
    const text = card === undefined ? null : this.checkCard(card);
    const ref = newRef();
    let seal = null;
    let commit;
    if (sealed || !this.allowPlain) {
      try {
        seal = await Seal.create('claimer', this.id, peerId);
      } catch (e) {
        throw new TerminalError('unsupported', e.message);
      }
      commit = await seal.commitB64();
    }
    const payload = encodeClaim({ key: k, from: this.id, ref, commit });
    this.filter.newClaim(ref, seal);
    if (text) this.cards.set(ref, text);
    const open = { peer: peerId, payload, failed: false };
    this.claimsOpen.set(ref, open);
    if (this.claimsOpen.size > 16) this.claimsOpen.delete(this.claimsOpen.keys().next().value);
    this.sendClaim(open);
    this.wake();
    return { ref };
  }

  /*
   * After a reconnect: MQTT.js sends again by itself what the broker did not
   * acknowledge (a persistent session keeps QoS 1 messages in flight); a
   * claim whose publish failed outright goes out again here, same ref, same
   * key (the server answers a repeat as the first and counts nothing, and
   * the filter reports one answer).
   */
  resendClaims() {
    for (const [ref, c] of this.claimsOpen) {
      const answered = this.filter.claim(ref);
      if (!answered || answered.matched || answered.refused) {
        this.claimsOpen.delete(ref);
        continue;
      }
      if (c.failed) this.sendClaim(c);
    }
  }

  sendClaim(c) {
    c.failed = false;
    this.publish('claim', c.peer, c.payload).then((ok) => {
      c.failed = !ok;
    });
  }

  /* The compact text of a card to send; throws "invalid", or "too-large" past what one message carries. */
  checkCard(card) {
    let text;
    try {
      text = compactJcard(card);
    } catch (e) {
      throw new TerminalError('invalid', `the card is not a valid jCard: ${e.message}`);
    }
    if (new TextEncoder().encode(text).length > CARD_TEXT_MAX) {
      throw new TerminalError('too-large', `the card is larger than the ${CARD_TEXT_MAX} bytes one exchange carries (a smaller photo?)`);
    }
    return text;
  }

  /**
   * Sends card (jCard value or text) in a matched exchange. Sealed: it is
   * kept and goes out once the keys are agreed (and, in confirm mode, the
   * code accepted). Throws TerminalError "state" (unknown exchange, or
   * both cards already crossed), "aborted", "plain" (the peer does not seal
   * and plaintext is not allowed), "invalid" (not a jCard).
   */
  sendCard(exchange, card) {
    const x = this.filter.exchange(exchange);
    if (!x) throw new TerminalError('state', 'no such exchange');
    const text = this.checkCard(card);
    if (x.aborted) throw new TerminalError('aborted', 'the exchange was aborted or altered');
    if (!x.sealed && !x.seal) {
      if (!this.allowPlain) throw new TerminalError('plain', 'the peer does not seal this exchange; its card would cross the server in plaintext');
    } else if (x.sealed && !x.seal) {
      throw new TerminalError('state', 'both cards crossed: nothing more can be sealed in this exchange');
    }
    x.outCard = text;
    x.cardOutSent = false;
    return this.serial(() => this.advance(x));
  }

  /**
   * The user's answer after comparing safety codes (the "safety" event).
   * accept true: a card waiting to be sent goes out, a card received is
   * reported (verified). false: the exchange is aborted here; nothing more
   * is sent or kept. Throws TerminalError "state" or "aborted".
   */
  confirm(exchange, accept) {
    const x = this.filter.exchange(exchange);
    if (!x) throw new TerminalError('state', 'no such exchange');
    if (x.aborted) throw new TerminalError('aborted', 'the exchange was aborted or altered');
    if (!accept) {
      this.abort(x);
      return Promise.resolve();
    }
    if (!x.agreed) throw new TerminalError('state', 'the keys of this exchange are not agreed yet');
    x.confirmed = true;
    return this.serial(async () => {
      if (x.inCard) {
        const card = x.inCard;
        x.inCard = null;
        this.emit('card', { exchange: x.xid, peer: x.peer, card: JSON.parse(card), text: card, sealed: true, verified: true });
      }
      await this.advance(x);
    });
  }

  // ---- replies ----

  async onReply(r) {
    for (const ev of this.filter.reply(r)) {
      await this.onEvent(ev);
    }
  }

  async onEvent({ kind, reply: r, x, request }) {
    switch (kind) {
      case 'offer':
        this.emit('offer', { ref: r.ref, expiresIn: r.expiresIn });
        return;
      case 'attempt':
        this.emit('attempt', { ref: r.ref, attemptsLeft: r.attemptsLeft });
        return;
      case 'revoked':
        this.emit('revoked', { ref: r.ref, reason: r.reason });
        return;
      case 'expired':
        if (x) {
          this.release(x);
          this.emit('expired', { exchange: x.xid, peer: x.peer, offer: false });
        } else {
          this.emit('expired', { ref: r.ref, offer: true });
        }
        return;
      case 'match':
        return this.onMatch(x, r);
      case 'pk':
        return this.onPk(x, r);
      case 'card':
        return this.onCard(x, r);
      case 'sent':
        this.emit('sent', { exchange: x.xid, peer: x.peer, sealed: !!x.sealed });
        return;
      case 'error': {
        const claim = request === 'claim' ? this.claimsOpen.get(r.ref) : undefined;
        if (request === 'claim') this.claimsOpen.delete(r.ref);
        this.emit('error', {
          code: r.code, message: r.message, topic: r.topic, retryAfter: r.retryAfter,
          ref: r.ref, exchange: r.exchange, peer: x ? x.peer : (claim ? claim.peer : ''), request,
        });
        return;
      }
      default:
    }
  }

  async onMatch(x, r) {
    this.claimsOpen.delete(r.ref);
    const text = this.cards.get(r.ref);
    this.cards.delete(r.ref);
    if (x.role === 'offerer') {
      this.offerOpen = null;
      if (x.peerCommit) {
        try {
          x.seal = await Seal.create('offerer', this.id, x.peer);
          x.sealed = true;
        } catch {
          this.fail(x, 'internal', 'cannot make a key pair for this exchange');
          return;
        }
      }
    } else {
      x.seal = x.ctx;
      x.ctx = null;
      x.sealed = !!x.seal;
    }
    this.emit('match', { exchange: x.xid, peer: x.peer, expiresIn: r.expiresIn, ref: r.ref, role: x.role, sealed: !!x.sealed });
    if (x.role === 'offerer' && !x.sealed && !this.allowPlain) {
      this.local(x, 'error', 'not-sealed', NOT_SEALED_MATCH);
    }
    if (text) x.outCard = text;
    x.waiting = true;
    this.wake();
    await this.advance(x);
  }

  async onPk(x, r) {
    this.emit('pk', { exchange: x.xid, peer: x.peer });
    if (!x.sealed || !x.seal || x.agreed || x.aborted) return;
    let code;
    try {
      code = await x.seal.agree(x.xid, r.pk, x.role === 'offerer' ? x.peerCommit : null);
    } catch (e) {
      if (e instanceof SealError && e.code === 'altered') {
        this.fail(x, 'altered', x.role === 'offerer' && /commitment/.test(e.message) ? ALTERED_KEY : ALTERED_BADKEY);
      } else {
        this.fail(x, 'internal', 'cannot derive the keys of this exchange');
      }
      return;
    }
    x.agreed = true;
    this.emit('safety', { exchange: x.xid, peer: x.peer, code, display: groupCode(code), line: `Safety code: ${groupCode(code)}` });
    await this.advance(x);
  }

  async onCard(x, r) {
    if (x.aborted) return;
    if (!r.ct) {
      if (!this.allowPlain) {
        this.fail(x, 'not-sealed', NOT_SEALED_CARD);
        return;
      }
      if (x.agreed) {
        this.fail(x, 'altered', ALTERED_PLAIN);
        return;
      }
      const why = jcardProblem(r.card);
      if (why) {
        this.fail(x, 'bad-card', "the peer's card is not a valid jCard; nothing was saved");
        return;
      }
      // Allowed downgrade: the peer does not seal, so our card goes in plaintext too.
      x.sealed = false;
      if (x.seal) x.seal.wipe();
      x.seal = null;
      const text = JSON.stringify(r.card);
      x.waiting = false;
      this.emit('card', { exchange: x.xid, peer: x.peer, card: r.card, text, sealed: false, verified: false });
      await this.advance(x);
      return;
    }
    if (!x.agreed) {
      this.fail(x, 'altered', ALTERED_EARLY);
      return;
    }
    let text;
    try {
      text = await x.seal.open(r.n, r.ct);
    } catch {
      this.fail(x, 'altered', ALTERED_CARD);
      return;
    }
    let card;
    try {
      card = JSON.parse(text);
    } catch {
      card = undefined;
    }
    if (card === undefined || jcardProblem(card)) {
      this.fail(x, 'bad-card', "the peer's sealed card is not a valid jCard; nothing was saved");
      return;
    }
    x.cardOpened = true;
    x.waiting = false;
    this.wipeKeysIfDone(x);
    if (this.confirmMode && !x.confirmed) {
      x.inCard = text; // held, opened, until the user compared the codes
      return;
    }
    this.emit('card', { exchange: x.xid, peer: x.peer, card, text, sealed: true, verified: !!x.confirmed });
  }

  // ---- sending within an exchange ----

  async advance(x) {
    if (x.aborted || !this.client) return;
    if (x.sealed && x.seal && !x.pkSent && (x.role === 'offerer' || x.agreed)) {
      x.pkSent = true;
      this.publish('card', x.peer, encodePk(x.xid, x.seal.pkB64)).then((ok) => {
        // Refused by MQTT.js only when the client was ended: try again at the next pump.
        if (!ok && !this.connected) x.pkSent = false;
      });
    }
    if (!x.outCard) return;
    if (!x.sealed) {
      if (!this.allowPlain) return;
      const payload = encodeCard(x.xid, x.outCard);
      x.outCard = null;
      this.sendOrFail(x, payload);
      return;
    }
    if (x.agreed && x.pkSent && (!this.confirmMode || x.confirmed)) {
      const { n, ct } = await x.seal.seal(x.outCard);
      x.outCard = null;
      x.cardOutSent = true;
      this.wipeKeysIfDone(x);
      this.sendOrFail(x, encodeSealed(x.xid, n, ct));
    }
  }

  sendOrFail(x, payload) {
    try {
      this.publish('card', x.peer, payload);
      x.sendsPending++;
    } catch (e) {
      this.local(x, 'error', e.code || 'internal', e.message);
    }
  }

  /* Pending sends of every exchange (after a reconnect). */
  pump() {
    this.serial(async () => {
      for (const x of this.filter.xs.values()) await this.advance(x);
    });
  }

  /*
   * Keeps the broker's loop awake while an answer is awaited: a claim's,
   * or the peer's key and card after a match. Mosquitto 2.0.11 writes a
   * WebSocket client 4 KiB per pass of its main loop, and a pass waits up
   * to 100 ms for a packet to arrive, so a 64 KiB card would take 1.5 s
   * to come; every packet a client sends ends that wait. A PINGREQ (2
   * bytes) every 5 ms brings it in about 0.1 s (docs/benchmarks.md, "Cards
   * to a browser over WebSockets"). It stops when nothing is awaited any
   * more, or WAKE_MS after the last wake, as for a peer that went away.
   */
  wake() {
    this.wakeUntil = Date.now() + WAKE_MS;
    if (this.wakeTimer) return;
    this.wakeTimer = setInterval(() => {
      if (Date.now() > this.wakeUntil || !this.awaiting()) {
        clearInterval(this.wakeTimer);
        this.wakeTimer = null;
        return;
      }
      if (this.client && this.client.connected) this.client.sendPing();
    }, WAKE_PERIOD_MS);
  }

  /* Whether an answer or a card is awaited (see wake). */
  awaiting() {
    if (this.claimsOpen.size > 0) return true; // a claim is removed when answered
    for (const x of this.filter.xs.values()) {
      if (x.waiting && !x.aborted) return true;
    }
    return false;
  }

  wipeKeysIfDone(x) {
    if (x.cardOutSent && x.cardOpened && x.seal) {
      x.seal.wipe();
      x.seal = null;
    }
  }

  release(x) {
    x.waiting = false;
    if (x.seal) x.seal.wipe();
    x.seal = null;
    x.outCard = null;
    x.inCard = null;
  }

  abort(x) {
    x.aborted = true;
    this.release(x);
  }

  fail(x, code, message) {
    this.abort(x);
    this.local(x, 'error', code, message);
  }

  local(x, type, code, message) {
    this.emit(type, { code, message, exchange: x.xid, peer: x.peer, request: 'exchange', retryAfter: 0, ref: '', topic: '' });
  }
}

export { generateKey };
