// The protocol core of the cardex page: everything but the screens. No DOM
// (except loadJsQR, which adds a <script>), no framework; runs in the
// browser (bundled by build.mjs) and in Node 20 (the tests).
//
// ---------------------------------------------------------------------------
// Terminal (terminal.js): one connection of a terminal to the broker.
//
//   const t = new Terminal({ url: 'wss://host/mqtt', id: 'ada', password,
//     suffix,          // client ID "<id>:<suffix>": give each device a stable one
//                      // (its session keeps replies while the phone is away; a
//                      // terminal holds at most 8 sessions). Default: a random
//                      // "web-xxxxxxxx", a new session each time.
//     prefix,          // the plugin's topic_prefix, default ''
//     confirm: false,  // hold cards until confirm() (the CLI's --confirm)
//     allowPlain: false, // exchange with a peer that does not seal
//     connectTimeout: 10000, reconnectPeriod: 1000 });
//   t.on('state', ({ state, error }) => ...)  // 'connecting', 'online',
//        'offline', 'reconnecting' (automatic, every reconnectPeriod),
//        'auth-failed' (ID or password refused: no retry), 'refused' (the
//        reply subscription was refused), 'closed'
//   await t.connect();       // rejects TerminalError code 'auth' | 'disconnected' | 'state'
//
//   Offering (show my key):
//   const { key, ref } = t.offer({ digits: 6, ttl: 120, card });  // key from crypto.getRandomValues
//     uri: formatUri(t.id, key), shown grouped: groupKey(key) ("483 920")
//   events: 'offer' { ref, expiresIn }      the server holds it (start the countdown)
//           'attempt' { ref, attemptsLeft } someone typed a wrong key
//           'revoked' { ref, reason }       'attempts' | 'replaced' | 'withdrawn'
//           'expired' { ref, offer: true }  unclaimed; renew = offer() again
//
//   Claiming (enter a key, or scan: parseUri(text) -> { id, key }):
//   const { ref } = await t.claim(peerId, key, { card });  // sealed; blanks in key ignored
//     Unanswered when the network drops, it goes out again with the same ref
//     after the reconnect (the server answers a repeat as the first).
//   answer: 'match' or 'error' { request: 'claim', code: 'no-match' |
//           'rate-limited' (retryAfter s) | 'self-claim' | 'capacity' | ... }
//
//   Both sides after the match:
//   'match'  { exchange, peer, expiresIn, ref, role: 'offerer'|'claimer', sealed }
//   'pk'     { exchange, peer }           the peer's key arrived (informational)
//   'safety' { exchange, peer, code: '869368', display: '869 368',
//              line: 'Safety code: 869 368' }  show it; with confirm: true ask
//              the user to type the other screen's code (or yes/no) and call
//              t.confirm(exchange, checkCode(code, typed))
//   t.sendCard(exchange, card)            when no card was given to offer/claim
//   'card'   { exchange, peer, card (jCard value), text, sealed, verified }
//              cardFromJcard(card) gives the card model (it throws CardError
//              for a card the plugin's structural check let through but the
//              card model refuses, as the CLI then keeps it out of its
//              contacts); verified: the codes were confirmed before it came
//   'sent'   { exchange, peer, sealed }   our card reached the server for the peer
//              (it is queued there when the peer is offline)
//   'expired' { exchange, peer, offer: false }  not completed in its lifetime
//   'error'  { code, message, exchange, peer, request: 'card' | 'exchange', retryAfter }
//              codes made here: 'altered' (the server tampered: nothing sent or
//              kept), 'not-sealed' (the peer does not seal), 'bad-card'; from the
//              server: 'unknown-exchange', 'too-large', 'bad-order', ...
//   t.confirm(exchange, accept)           accept false aborts: nothing more sent or kept
//   await t.close();
//
// Errors thrown by calls are TerminalError { code, message }: 'invalid',
// 'state', 'disconnected', 'auth', 'aborted', 'plain', 'unsupported',
// 'too-large' (offer, claim, sendCard: a card over CARD_TEXT_MAX, mostly a
// photo). x25519Supported() says whether this browser can seal.
//
// ---------------------------------------------------------------------------
// Cards (card.js): the C side's card model (common/card.h).
//   parseVcards(textOrBytes) -> { cards, numbers, errors }  (.vcf 2.1/3.0/4.0,
//                               several cards; numbers: each card's place in the file)
//   parseVcard(textOrBytes)  -> card               (throws CardError {code, line, prop})
//   writeVcard(card, 3|4)    -> text (CRLF)        3 for "Save to contacts"
//   cardToJcard(card) / cardFromJcard(jcard)       the wire form
//   newCard(fn, { tel: [...], email: ..., org: 'Org;Unit' }), cardSet, cardAdd,
//   cardRemove, cardGet, cardFind, cardFn, propJoin, propTypes, cardSelect(card,
//   ['fn','tel']) (choose the fields of an exchange), cardCopy, cardEqual,
//   checkCard(card) (FN, PHOTO size). Limits: MAX_PROPS, PHOTO_MAX; a card
//   must fit the server's 64 KiB per message (CARD_TEXT_MAX, sealed).
//
// QR (qr.js): qrSvg(formatUri(id, key), { label }) an inline SVG; qrDecoder()
//   -> { kind, wantsImageData, decode(source) } (BarcodeDetector, else jsQR
//   loaded lazily from jsqr.js); parseUri(text) reads what it decoded.
//
// Protocol helpers (proto.js): idValid, keyValid, generateKey(digits),
//   groupKey(key), groupCode(code), formatUri, parseUri, checkCode.
// ---------------------------------------------------------------------------

export { Terminal, TerminalError } from './terminal.js';
export {
  idValid, keyValid, xidValid, generateKey, groupKey, groupCode, formatUri, parseUri, clientId,
  PAYLOAD_MAX, CARD_TEXT_MAX,
} from './proto.js';
export { x25519Supported, SealError } from './seal.js';
export { jcardProblem, compactJcard } from './jcard.js';
export {
  CardError, parseVcard, parseVcards, writeVcard, cardToJcard, cardFromJcard, checkCard, cardFn,
  cardFind, cardGet, cardSet, cardAdd, cardRemove, cardSelect, cardCopy, cardEqual, newCard, propJoin,
  propTypes, MAX_PROPS, PHOTO_MAX,
} from './card.js';
export { qrSvg, qrMatrix, qrDecoder, loadJsQR } from './qr.js';

/**
 * The CLI's --confirm answer (client/cli/input.c): "y" or "yes" (any case),
 * or the 6 digits shown on the other screen, blanks ignored. True when the
 * answer accepts code.
 */
export function checkCode(code, typed) {
  const t = String(typed || '').trim();
  if (/^(y|yes)$/i.test(t)) return true;
  const digits = t.replace(/[ \t]/g, '');
  if (digits.length !== code.length) return false;
  let d = 0;
  for (let i = 0; i < digits.length; i++) d |= digits.charCodeAt(i) ^ code.charCodeAt(i);
  return d === 0;
}
