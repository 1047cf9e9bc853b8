// The reply filter of a terminal (docs/protocol.md §10, "terminals are
// defensive too"), as client/filter.c does it for libcardex. A persistent
// session may hold replies of an earlier run, QoS 1 may deliver a reply
// twice, and a request resent after a reconnect may be answered twice. The
// filter passes on only replies that answer a request of this terminal (by
// the ref the plugin echoes) or belong to an exchange learnt from one, and
// each request's outcome once:
//   offer                    once per live offer ref;
//   attempt                  when attempts_left drops below the last one reported;
//   revoked, expired(offer)  once per live offer ref;
//   revoked "replaced"       of the live ref: held until the next reply. The
//                            "offer" reply of the same ref means our own offer,
//                            resent, replaced itself (dropped); anything else,
//                            that another connection replaced it (reported);
//   anything about the offer after its match: dropped (only a copy made by a
//                            resend can still be answered);
//   match                    once per exchange and per offer or claim ref;
//   card, pk, sent, expired(exchange)  once per known exchange, a card and a
//                            key only from its peer;
//   error with a ref         only as the first answer of its offer or claim;
//   error for a card         only while a card we sent awaits its answer.
// Replies about an exchange not known yet (a card overtaking its match) are
// held, at most PENDING of them, and replayed when the match comes.
//
// Pure and synchronous: no network, no crypto. reply() takes a decoded
// reply (proto.decodeReply) and returns the events to report, in order.

import { MSG_KEY_ALREADY_SENT, topic as buildTopic, xidValid } from './proto.js';

export const CLAIM_REFS = 16;
export const EXCHANGES = 32;
export const PENDING = 8;

export class ReplyFilter {
  constructor(prefix = '') {
    this.prefix = prefix;
    this.offer = null; // { ref, acked, refused, matched, revoked, expired, replaceHeld, attempts }
    this.claims = []; // { ref, matched, refused, ctx }, newest last, at most CLAIM_REFS
    this.xs = new Map(); // xid -> exchange, insertion order = age
    this.held = []; // replies of exchanges not known yet, oldest first
    this.resendDrops = 0;
  }

  /** A new offer: the events of older offers are no longer reported. */
  newOffer(ref) {
    this.offer = { ref, acked: false, refused: false, matched: false, revoked: false,
      expired: false, replaceHeld: false, attempts: Infinity };
  }

  /** A new claim; ctx travels to its exchange at the match (the claimer's key pair). */
  newClaim(ref, ctx = null) {
    this.claims.push({ ref, matched: false, refused: false, ctx });
    if (this.claims.length > CLAIM_REFS) this.claims.shift();
  }

  /** The claim of ref, or undefined. */
  claim(ref) {
    return ref ? this.claims.find((c) => c.ref === ref) : undefined;
  }

  /** The exchange of xid this terminal learnt from a match, or undefined. */
  exchange(xid) {
    return xid ? this.xs.get(xid) : undefined;
  }

  isOfferRef(ref) {
    return !!(ref && this.offer && this.offer.ref === ref);
  }

  /** Events for one decoded reply. Each event is { kind, reply, x? }. */
  reply(r) {
    const out = [];
    if (this.offer && this.offer.replaceHeld && !this.continuesOwnReplacement(r)) {
      this.offer.replaceHeld = false;
      this.offer.revoked = true;
      out.push({ kind: 'revoked', reply: { type: 'revoked', ref: this.offer.ref, reason: 'replaced' } });
    }
    this.dispatch(r, out);
    return out;
  }

  continuesOwnReplacement(r) {
    if (!this.isOfferRef(r.ref)) return false;
    return r.type === 'offer' || (r.type === 'revoked' && r.reason === 'replaced');
  }

  dispatch(r, out) {
    switch (r.type) {
      case 'offer':
      case 'attempt':
      case 'revoked':
        return this.onOfferReply(r, out);
      case 'expired':
        return r.offer ? this.onOfferReply(r, out) : this.onExchangeReply(r, out);
      case 'match':
        return this.onMatch(r, out);
      case 'card':
      case 'sent':
      case 'pk':
        return this.onExchangeReply(r, out);
      case 'error':
        return this.onError(r, out);
      default:
        return undefined;
    }
  }

  dropResend() {
    this.resendDrops++;
  }

  onMatch(r, out) {
    let c;
    let role;
    if (this.isOfferRef(r.ref)) {
      role = 'offerer';
    } else if ((c = this.claim(r.ref))) {
      role = 'claimer';
    } else {
      return;
    }
    if (this.xs.has(r.exchange)) return;
    const owner = role === 'offerer' ? this.offer : c;
    if (owner.matched) {
      // An offer is consumed by its match and a claim evaluated once: a
      // second exchange for one ref paired resent copies of both.
      this.dropResend();
      return;
    }
    owner.matched = true;
    if (this.xs.size >= EXCHANGES) this.xs.delete(this.xs.keys().next().value);
    const x = {
      xid: r.exchange, peer: r.peer, role, ref: r.ref, peerCommit: role === 'offerer' ? r.commit : '',
      ctx: c ? c.ctx : null, pkSeen: false, cardSeen: false, sentSeen: false, expiredSeen: false,
      sendsPending: 0,
    };
    if (c) c.ctx = null;
    this.xs.set(r.exchange, x);
    out.push({ kind: 'match', reply: r, x });
    // Replay what came before the match, in arrival order.
    const mine = this.held.filter((h) => h.exchange === r.exchange);
    this.held = this.held.filter((h) => h.exchange !== r.exchange);
    for (const h of mine) this.dispatch(h, out);
  }

  onExchangeReply(r, out) {
    const x = this.xs.get(r.exchange);
    if (!x) {
      if (xidValid(r.exchange)) {
        this.held.push(r);
        if (this.held.length > PENDING) this.held.shift();
      }
      return;
    }
    switch (r.type) {
      case 'pk':
        if (x.pkSeen || r.peer !== x.peer) return;
        x.pkSeen = true;
        out.push({ kind: 'pk', reply: r, x });
        return;
      case 'card':
        if (x.cardSeen || r.peer !== x.peer) return;
        x.cardSeen = true;
        out.push({ kind: 'card', reply: r, x });
        return;
      case 'sent':
        if (x.sentSeen || r.peer !== x.peer) return;
        x.sentSeen = true;
        if (x.sendsPending > 0) x.sendsPending--;
        out.push({ kind: 'sent', reply: r, x });
        return;
      default:
        if (x.expiredSeen) return;
        x.expiredSeen = true;
        out.push({ kind: 'expired', reply: r, x });
    }
  }

  onOfferReply(r, out) {
    const o = this.offer;
    if (!this.isOfferRef(r.ref)) return;
    if (o.matched) {
      this.dropResend();
      return;
    }
    let flag;
    switch (r.type) {
      case 'offer':
        if (o.replaceHeld) {
          // Our offer, resent, replaced itself: it lives on, same ref, same key.
          o.replaceHeld = false;
          if (o.acked) {
            this.dropResend();
            return;
          }
        }
        flag = 'acked';
        break;
      case 'revoked':
        if (r.reason === 'replaced' && !o.revoked) {
          o.replaceHeld = true;
          return;
        }
        flag = 'revoked';
        break;
      case 'expired':
        flag = 'expired';
        break;
      default: // attempt: counts only go down, so a lower count is news
        if (r.attemptsLeft >= o.attempts) return;
        o.attempts = r.attemptsLeft;
        out.push({ kind: 'attempt', reply: r });
        return;
    }
    if (o[flag]) return;
    o[flag] = true;
    out.push({ kind: r.type, reply: r });
  }

  onRefError(r, out) {
    if (this.isOfferRef(r.ref)) {
      const o = this.offer;
      if (o.acked || o.refused || o.matched) {
        this.dropResend();
        return;
      }
      o.refused = true;
      out.push({ kind: 'error', reply: r, request: 'offer' });
      return;
    }
    const c = this.claim(r.ref);
    if (!c) return;
    if (c.matched || c.refused) {
      this.dropResend();
      return;
    }
    c.refused = true;
    out.push({ kind: 'error', reply: r, request: 'claim' });
  }

  /* An error without ref or exchange (too-large: not parsed) is ours when it names the card topic of a card awaiting its answer. */
  unansweredCard(t) {
    for (const x of this.xs.values()) {
      if (x.sendsPending > 0 && buildTopic(this.prefix, 'card', x.peer) === t) return x;
    }
    return undefined;
  }

  onError(r, out) {
    if (r.ref) {
      this.onRefError(r, out);
      return;
    }
    const x = r.exchange ? this.xs.get(r.exchange) : this.unansweredCard(r.topic);
    if (!x) return;
    if (r.code === 'already-sent' && r.message === MSG_KEY_ALREADY_SENT) {
      this.dropResend(); // we send our key once: this refuses a resent copy
      return;
    }
    if (x.sendsPending === 0) {
      this.dropResend();
      return;
    }
    x.sendsPending--;
    out.push({ kind: 'error', reply: { ...r, exchange: x.xid }, request: 'card', x });
  }
}
