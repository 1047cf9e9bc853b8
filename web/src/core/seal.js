// Sealed exchanges, extension cardex-e2e-v1 (docs/protocol.md §8), with
// WebCrypto: X25519, SHA-256, HKDF-SHA256, AES-256-GCM. The same
// computation as common/seal.c, checked against the same test vectors.
//
// Secrets: the private key is a non-extractable CryptoKey made fresh for
// each exchange; the shared secret and the PRK exist only as non-extractable
// keys or short-lived byte arrays that are zeroed after use.

import { b64uValid } from './proto.js';

const enc = new TextEncoder();
const subtle = () => {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) throw new SealError('unsupported', 'this browser has no WebCrypto (the page needs HTTPS)');
  return s;
};

export const KEY_LEN = 32;
export const NONCE_LEN = 12;
export const TAG_LEN = 16;

/** An error of the sealing layer: code "altered", "unsupported" or "internal". */
export class SealError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// ---- base64url (RFC 4648 §5) without padding ----

const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export function b64uEncode(bytes) {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHA[v >> 18] + ALPHA[(v >> 12) & 63] + ALPHA[(v >> 6) & 63] + ALPHA[v & 63];
  }
  if (i < bytes.length) {
    const v = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8);
    out += ALPHA[v >> 18] + ALPHA[(v >> 12) & 63];
    if (i + 1 < bytes.length) out += ALPHA[(v >> 6) & 63];
  }
  return out;
}

/** Decodes canonical base64url without padding; null when s is not such. */
export function b64uDecode(s) {
  if (!b64uValid(s)) return null;
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    acc = ((acc << 6) | ALPHA.indexOf(s[i])) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

// ---- building blocks ----

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** lp(s): BE16 of the UTF-8 length, then the UTF-8 bytes. */
function lp(s) {
  const b = enc.encode(s);
  if (b.length > 0xffff) throw new SealError('internal', 'string too long');
  return concat(new Uint8Array([b.length >> 8, b.length & 0xff]), b);
}

async function sha256(bytes) {
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

/** Constant-time comparison of two byte arrays of the same length. */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** B's commitment to pk_B: SHA-256("cardex-commit-v1" || lp(A) || lp(B) || pk_B). */
export async function commitment(a, b, pkB) {
  return sha256(concat(enc.encode('cardex-commit-v1'), lp(a), lp(b), pkB));
}

/** TH = SHA-256("cardex-e2e-v1" || lp(X) || lp(A) || lp(B) || pk_A || pk_B). */
export async function transcriptHash(xid, a, b, pkA, pkB) {
  return sha256(concat(enc.encode('cardex-e2e-v1'), lp(xid), lp(a), lp(b), pkA, pkB));
}

const PKCS8_X25519 = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

/** True when this platform's WebCrypto does X25519 (Chromium 133+, Firefox 130+, Safari 17+, Node 20). */
export async function x25519Supported() {
  try {
    await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh key pair: { privateKey (non-extractable CryptoKey), pk (32 bytes) }.
 * With sk (32 bytes, tests only) the pair of that private key.
 */
export async function newKeyPair(sk) {
  let pair;
  if (sk) {
    const pkcs8 = concat(PKCS8_X25519, sk);
    const privateKey = await subtle().importKey('pkcs8', pkcs8, { name: 'X25519' }, true, ['deriveBits']);
    pkcs8.fill(0);
    // WebCrypto gives the public key of an imported private key through its JWK.
    const jwk = await subtle().exportKey('jwk', privateKey);
    const pk = b64uDecode(jwk.x);
    jwk.d = '';
    const locked = await subtle().importKey('pkcs8', concat(PKCS8_X25519, sk), { name: 'X25519' }, false, ['deriveBits']);
    return { privateKey: locked, pk };
  }
  try {
    pair = await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
  } catch {
    throw new SealError('unsupported', 'this browser cannot seal cards (no X25519 in WebCrypto)');
  }
  const pk = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
  return { privateKey: pair.privateKey, pk };
}

async function hkdfExpand(prkKey, info, len) {
  // HKDF-Expand alone is HKDF with the PRK as a pre-extracted key: WebCrypto
  // has only the combined form, so Expand is HMAC by hand (RFC 5869 §2.3).
  const out = new Uint8Array(len);
  let t = new Uint8Array(0);
  let o = 0;
  for (let i = 1; o < len; i++) {
    t = new Uint8Array(await subtle().sign('HMAC', prkKey, concat(t, enc.encode(info), new Uint8Array([i]))));
    const n = Math.min(t.length, len - o);
    out.set(t.subarray(0, n), o);
    o += n;
  }
  t.fill(0);
  return out;
}

/**
 * The agreement of one exchange: from own private key, the peer's public
 * key and the transcript hash, the safety code and the two direction keys
 * (AES-GCM CryptoKeys, non-extractable). Throws SealError "altered" for a
 * peer key of low order (an all-zero shared secret).
 */
export async function agree(privateKey, peerPk, th) {
  let peer;
  let shared;
  try {
    peer = await subtle().importKey('raw', peerPk, { name: 'X25519' }, false, []);
    shared = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: peer }, privateKey, 256));
  } catch {
    throw new SealError('altered', 'the peer key is not a valid key');
  }
  let zero = 0;
  for (const b of shared) zero |= b;
  if (zero === 0) {
    throw new SealError('altered', 'the peer key is of low order');
  }
  // PRK = HKDF-Extract(salt = TH, IKM = shared) = HMAC-SHA256(TH, shared).
  const saltKey = await subtle().importKey('raw', th, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const prk = new Uint8Array(await subtle().sign('HMAC', saltKey, shared));
  shared.fill(0);
  const prkKey = await subtle().importKey('raw', prk, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  prk.fill(0);
  const sas = await hkdfExpand(prkKey, 'cardex-e2e-v1 sas', 4);
  const kab = await hkdfExpand(prkKey, 'cardex-e2e-v1 A->B', 32);
  const kba = await hkdfExpand(prkKey, 'cardex-e2e-v1 B->A', 32);
  const code = (((sas[0] << 24) >>> 0) + (sas[1] << 16) + (sas[2] << 8) + sas[3]) % 1000000;
  const importAes = (k) => subtle().importKey('raw', k, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  const keys = { ab: await importAes(kab), ba: await importAes(kba) };
  kab.fill(0);
  kba.fill(0);
  sas.fill(0);
  return { code: String(code).padStart(6, '0'), keys };
}

/** AES-256-GCM of plaintext under key with aad TH: { n, ct } (base64url, ct with its tag). */
export async function sealCard(key, th, plaintext, nonce) {
  const iv = nonce || globalThis.crypto.getRandomValues(new Uint8Array(NONCE_LEN));
  const ct = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv, additionalData: th, tagLength: 128 }, key, plaintext));
  return { n: b64uEncode(iv), ct: b64uEncode(ct) };
}

/** Opens { n, ct }: the plaintext bytes, or throws SealError "altered". */
export async function openCard(key, th, n, ct) {
  const iv = b64uDecode(n);
  const body = b64uDecode(ct);
  if (!iv || iv.length !== NONCE_LEN || !body || body.length < TAG_LEN) {
    throw new SealError('altered', 'a sealed card is malformed');
  }
  try {
    return new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv, additionalData: th, tagLength: 128 }, key, body));
  } catch {
    throw new SealError('altered', 'a sealed card failed authentication');
  }
}

/**
 * The sealing state of one exchange from one side: role "offerer" (A) or
 * "claimer" (B). The claimer makes its pair before it claims (its
 * commitment goes in the claim); the offerer at the match.
 */
export class Seal {
  static async create(role, self, peer, sk) {
    const s = new Seal();
    s.role = role;
    s.a = role === 'offerer' ? self : peer;
    s.b = role === 'offerer' ? peer : self;
    const pair = await newKeyPair(sk);
    s.privateKey = pair.privateKey;
    s.pk = pair.pk;
    s.code = null;
    s.keys = null;
    s.th = null;
    return s;
  }

  /** Our public key, base64url. */
  get pkB64() {
    return b64uEncode(this.pk);
  }

  /** The claimer's commitment to its key, base64url (for the claim). */
  async commitB64() {
    return b64uEncode(await commitment(this.a, this.b, this.pk));
  }

  /**
   * Agrees on keys with the peer's key (base64url). The offerer checks it
   * against peerCommit (base64url) first. Returns the 6-digit safety code;
   * throws SealError "altered".
   */
  async agree(xid, peerPkB64, peerCommit) {
    const peerPk = b64uDecode(peerPkB64);
    if (!peerPk || peerPk.length !== KEY_LEN) throw new SealError('altered', 'the peer key is not a valid key');
    if (this.role === 'offerer') {
      const want = b64uDecode(peerCommit || '');
      const got = await commitment(this.a, this.b, peerPk);
      if (!want || !equalBytes(want, got)) {
        throw new SealError('altered', "the peer's key does not match its commitment");
      }
    }
    const pkA = this.role === 'offerer' ? this.pk : peerPk;
    const pkB = this.role === 'offerer' ? peerPk : this.pk;
    this.th = await transcriptHash(xid, this.a, this.b, pkA, pkB);
    const { code, keys } = await agree(this.privateKey, peerPk, this.th);
    this.privateKey = null;
    this.code = code;
    this.keys = keys;
    return code;
  }

  /** Seals our card text (a string): { n, ct }. */
  async seal(text, nonce) {
    const key = this.role === 'offerer' ? this.keys.ab : this.keys.ba;
    const pt = enc.encode(text);
    const out = await sealCard(key, this.th, pt, nonce);
    pt.fill(0);
    return out;
  }

  /** Opens the peer's sealed card: its text; throws SealError "altered". */
  async open(n, ct) {
    const key = this.role === 'offerer' ? this.keys.ba : this.keys.ab;
    const pt = await openCard(key, this.th, n, ct);
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(pt);
    } catch {
      throw new SealError('altered', 'a sealed card is not UTF-8');
    } finally {
      pt.fill(0);
    }
    return text;
  }

  /** Forgets every key. */
  wipe() {
    this.privateKey = null;
    this.keys = null;
    this.th = null;
  }
}
