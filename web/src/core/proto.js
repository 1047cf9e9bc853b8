// The cardex wire protocol (docs/protocol.md §1-§3): identifiers, topics,
// and one encoder and one decoder per message, as common/ids.c, topic.c
// and proto.c define them for the C side.

export const ID_MAX = 64;
export const REF_MAX = 16;
export const KEY_MIN = 6;
export const KEY_MAX = 16;
export const TTL_MIN = 5;
export const TTL_MAX = 600;
/* The plugin's default max_payload: a card request longer than this is refused (too-large). */
export const PAYLOAD_MAX = 65536;
/*
 * The longest jCard text that fits one sealed card message within the
 * server's default max_payload: the JSON around it, the 16-byte tag and
 * base64url's 4/3 leave 49 000 bytes of card (checked by the tests).
 */
export const CARD_TEXT_MAX = 49000;
/* The plugin's cap on a sealed card's "ct" (base64url characters). */
export const CT_B64_MAX = 1024 * 1024;
/* The message by which the plugin refuses a resent key rather than a card (proto.h). */
export const MSG_KEY_ALREADY_SENT = 'this terminal already sent its key in this exchange';

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const REF_RE = /^[A-Za-z0-9._-]{1,16}$/;
const XID_RE = /^[0-9a-f]{32}$/;
const KEY_RE = /^[0-9]{6,16}$/;
const B64U_RE = /^[A-Za-z0-9_-]*$/;

/** A terminal ID: 1 to 64 of A-Z a-z 0-9 . _ - (§1). */
export const idValid = (s) => typeof s === 'string' && ID_RE.test(s);
/** A request reference: 1 to 16 of the same characters (§3.1). */
export const refValid = (s) => typeof s === 'string' && REF_RE.test(s);
/** An exchange ID: 32 lowercase hex digits. */
export const xidValid = (s) => typeof s === 'string' && XID_RE.test(s);
/** An instant key: 6 to 16 decimal digits. */
export const keyValid = (s) => typeof s === 'string' && KEY_RE.test(s);

/**
 * The MQTT client ID of a connection of terminal id (§1): the ID itself or
 * "<id>:<suffix>". Throws on an invalid ID; the suffix may be anything
 * non-empty without a NUL (MQTT allows up to 65535 bytes; the C client
 * allows 256, and so does this).
 */
export function clientId(id, suffix) {
  if (!idValid(id)) throw new TypeError('invalid terminal ID');
  if (suffix === undefined || suffix === null || suffix === '') return id;
  if (typeof suffix !== 'string' || suffix.length > 256 || suffix.includes('\0')) {
    throw new TypeError('invalid client ID suffix');
  }
  return `${id}:${suffix}`;
}

/** A topic prefix must be empty or end in '/' with no wildcard or NUL (§6 topic_prefix). */
export function prefixValid(p) {
  return p === '' || (typeof p === 'string' && p.endsWith('/') && !/[#+\0]/.test(p));
}

/** Topic kind/id under prefix: kind is "keys", "claim", "card" or "reply". */
export function topic(prefix, kind, id) {
  if (!['keys', 'claim', 'card', 'reply'].includes(kind) || !idValid(id)) {
    throw new TypeError('invalid topic');
  }
  return `${prefix}${kind}/${id}`;
}

// ---- requests (terminal -> plugin) ----

/** {"key","ttl"?,"ref"} for keys/<own id>. */
export function encodeOffer({ key, ttl, ref }) {
  if (!keyValid(key)) throw new TypeError('the key must be 6 to 16 digits');
  if (ttl !== undefined && ttl !== 0 && !(Number.isInteger(ttl) && ttl >= TTL_MIN && ttl <= TTL_MAX)) {
    throw new TypeError(`ttl must be ${TTL_MIN} to ${TTL_MAX} seconds`);
  }
  if (!refValid(ref)) throw new TypeError('invalid ref');
  const o = { key };
  if (ttl) o.ttl = ttl;
  o.ref = ref;
  return JSON.stringify(o);
}

/** {"key","from","ref","commit"?} for claim/<peer>. */
export function encodeClaim({ key, from, ref, commit }) {
  if (!keyValid(key)) throw new TypeError('the key must be 6 to 16 digits');
  if (!idValid(from) || !refValid(ref)) throw new TypeError('invalid claim');
  const o = { key, from, ref };
  if (commit !== undefined) {
    if (!b64uValid(commit) || commit.length !== 43) throw new TypeError('invalid commit');
    o.commit = commit;
  }
  return JSON.stringify(o);
}

/** {"exchange","card"} for card/<peer>; cardText is compact jCard JSON text. */
export function encodeCard(xid, cardText) {
  if (!xidValid(xid)) throw new TypeError('invalid exchange ID');
  return `{"exchange":"${xid}","card":${cardText}}`;
}

/** {"exchange","pk"} for card/<peer>. */
export function encodePk(xid, pk) {
  if (!xidValid(xid) || !b64uValid(pk) || pk.length !== 43) throw new TypeError('invalid key message');
  return JSON.stringify({ exchange: xid, pk });
}

/** {"exchange","n","ct"} for card/<peer>. */
export function encodeSealed(xid, n, ct) {
  if (!xidValid(xid) || !b64uValid(n) || n.length !== 16 || !b64uValid(ct)) {
    throw new TypeError('invalid sealed card');
  }
  return JSON.stringify({ exchange: xid, n, ct });
}

/** Canonical base64url without padding (§8.1): the unused bits of the last character zero. */
export function b64uValid(s) {
  if (typeof s !== 'string' || !B64U_RE.test(s) || s.length % 4 === 1) return false;
  const rest = s.length % 4;
  if (rest === 0 || s.length === 0) return true;
  const v = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(s[s.length - 1]);
  return (v & (rest === 2 ? 0x0f : 0x03)) === 0;
}

// ---- replies (plugin -> terminal) ----

const TYPES = new Set(['offer', 'match', 'attempt', 'revoked', 'card', 'pk', 'sent', 'expired', 'error']);
const uint = (v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/**
 * Decodes a reply payload (a Uint8Array or string) into a plain object with
 * the fields of §3.2, or returns null when it is not a reply a terminal can
 * act on (not JSON, unknown type, a field of the wrong type, an invalid ID):
 * such a message is ignored, never trusted (§10 terminals are defensive).
 * Result: { type, ref, exchange, peer, expiresIn, attemptsLeft, reason,
 * offer, code, message, topic, retryAfter, commit, card, n, ct, pk }, with
 * "" / 0 / null for absent fields; card is the jCard value (not text).
 */
export function decodeReply(payload) {
  let o;
  try {
    const text = typeof payload === 'string' ? payload : new TextDecoder('utf-8', { fatal: true }).decode(payload);
    o = JSON.parse(text);
  } catch {
    return null;
  }
  if (!o || typeof o !== 'object' || Array.isArray(o) || !TYPES.has(o.type)) return null;
  const str = (k, ok = () => true) => {
    if (o[k] === undefined) return '';
    if (typeof o[k] !== 'string' || !ok(o[k])) throw new TypeError(k);
    return o[k];
  };
  const num = (k) => {
    if (o[k] === undefined) return 0;
    if (!uint(o[k])) throw new TypeError(k);
    return o[k];
  };
  try {
    const r = {
      type: o.type,
      ref: str('ref', refValid),
      exchange: str('exchange', xidValid),
      peer: '',
      expiresIn: num('expires_in'),
      attemptsLeft: num('attempts_left'),
      reason: str('reason'),
      offer: o.offer === true,
      code: str('code'),
      message: str('message'),
      topic: str('topic'),
      retryAfter: num('retry_after'),
      commit: '',
      card: null,
      n: '',
      ct: '',
      pk: '',
    };
    switch (o.type) {
      case 'match':
        r.peer = str('peer', idValid);
        if (!r.peer || !r.exchange) return null;
        r.commit = str('peer_commit', b64uValid);
        break;
      case 'card':
        r.peer = str('from', idValid);
        if (!r.peer || !r.exchange) return null;
        if (o.ct !== undefined || o.n !== undefined) {
          r.n = str('n', b64uValid);
          r.ct = str('ct', b64uValid);
          if (r.n.length !== 16 || r.ct.length < 22) return null;
        } else {
          if (!Array.isArray(o.card)) return null;
          r.card = o.card;
        }
        break;
      case 'pk':
        r.peer = str('from', idValid);
        r.pk = str('pk', b64uValid);
        if (!r.peer || !r.exchange || r.pk.length !== 43) return null;
        break;
      case 'sent':
        r.peer = str('to', idValid);
        if (!r.peer || !r.exchange) return null;
        break;
      case 'expired':
        if (!r.offer && !r.exchange) return null;
        break;
      case 'revoked':
        if (!['attempts', 'replaced', 'withdrawn'].includes(r.reason)) return null;
        break;
      case 'error':
        if (!r.code) return null;
        break;
      default:
        break;
    }
    return r;
  } catch {
    return null;
  }
}

// ---- keys, refs, QR payloads ----

function randomBytes(n) {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

/**
 * An instant key of `digits` (6..16) uniformly random decimal digits, from
 * crypto.getRandomValues: each digit from a byte below 250 (25 * 10), bytes
 * of 250 and above are drawn again, so no digit is likelier than another.
 */
export function generateKey(digits = 6) {
  if (!Number.isInteger(digits) || digits < KEY_MIN || digits > KEY_MAX) {
    throw new RangeError(`a key has ${KEY_MIN} to ${KEY_MAX} digits`);
  }
  let key = '';
  while (key.length < digits) {
    const buf = randomBytes(digits * 2);
    for (const b of buf) {
      if (b < 250 && key.length < digits) key += String(b % 10);
    }
    buf.fill(0);
  }
  return key;
}

/** A fresh request reference: 16 lowercase hex digits, as libcardex makes them. */
export function newRef() {
  return Array.from(randomBytes(8), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The key grouped for reading aloud exactly as the CLI shows it
 * (client/cli/uri.c): groups of three from the left, the last group never a
 * single digit ("483 920", "123 4567", "123 456 7890").
 */
export function groupKey(key) {
  const s = String(key);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && i % 3 === 0 && s.length - i !== 1) out += ' ';
    out += s[i];
  }
  return out;
}

/** The safety code as both sides show it: "869 368". */
export const groupCode = (code) => `${code.slice(0, 3)} ${code.slice(3)}`;

/** The QR payload of an offer, as `cardex offer` prints it: "cardex:<id>/<key>". */
export function formatUri(id, key) {
  if (!idValid(id) || !keyValid(key)) throw new TypeError('invalid terminal ID or key');
  return `cardex:${id}/${key}`;
}

/**
 * Reads "cardex:<id>/<key>" (the scheme in any case, as QR readers may
 * upper-case it; nothing around it but blanks a scanner may add). Returns
 * {id, key}, or throws an Error whose message says what is wrong without
 * quoting the text (it may hold a key).
 */
export function parseUri(text) {
  if (typeof text !== 'string') throw new Error('not a cardex: URI (expected cardex:<terminal-id>/<key>)');
  const t = text.trim();
  if (t.slice(0, 7).toLowerCase() !== 'cardex:') {
    throw new Error('not a cardex: URI (expected cardex:<terminal-id>/<key>)');
  }
  const rest = t.slice(7);
  const slash = rest.indexOf('/');
  if (slash < 0) throw new Error("the cardex: URI has no '/' between terminal ID and key");
  const id = rest.slice(0, slash);
  const key = rest.slice(slash + 1);
  if (!idValid(id)) {
    throw new Error('the cardex: URI does not hold a valid terminal ID (1 to 64 of A-Z a-z 0-9 . _ -)');
  }
  if (!keyValid(key)) throw new Error('the key in the cardex: URI must be 6 to 16 digits, and nothing may follow it');
  return { id, key };
}
