// The exchange screens: show my key, enter a key (typed or scanned), the
// wait, the safety code, the card received, and what went wrong. The
// protocol is app.session's (the core's Terminal); this file only turns its
// events into screens and the user's taps into calls.
//
// Events of an exchange (ex.on(fn)):
//   {type:'offer', key, expiresIn}        our key is live
//   {type:'attempt', attemptsLeft}        someone typed a wrong key
//   {type:'revoked', reason}              'attempts' | 'replaced' | 'withdrawn'
//   {type:'expired', what}                'offer' | 'exchange'
//   {type:'match', peer, sealed}
//   {type:'safety', code}                 the safety code: ask, then ex.confirm(bool)
//   {type:'sent', to}                     our card passed to the peer's session
//   {type:'card', card, from, sealed, verified}
//   {type:'error', code, message, retryAfter}
import { $, el, clear, say, showDigits, mmss } from './dom.js';
import { qrSvg } from '../core/qr.js';
import { formatUri } from '../core/proto.js';
import { startScan, cameraError } from './scanner.js';
import { renderCard, cardName } from './cardview.js';
import { cardToSend } from './profile.js';
import * as store from './store.js';

// How long a step may wait for the other phone before the page says it may
// be offline.
const PEER_QUIET_MS = 6000;

export function createExchange(app) {
  let ex = null;          // the exchange in progress
  let role = '';          // 'offer' | 'claim'
  let peer = '';
  let received = null;    // {card, meta}
  let savedMsg = '';      // what became of the received card
  let savedOk = true;
  let sent = false;
  let timers = [];
  let stopScan = null;
  let lastClaim = null;   // {peer, key}: kept for "try again"
  let quietTimer = null;

  const clearTimers = () => { timers.forEach((t) => clearInterval(t)); timers = []; };

  function countdown(node, seconds, onEnd) {
    const end = Date.now() + seconds * 1000;
    const tick = () => {
      const left = (end - Date.now()) / 1000;
      node.textContent = node.dataset.prefix ? `${node.dataset.prefix} ${mmss(left)}` : mmss(left);
      node.dataset.low = String(left <= 15);
      if (left <= 0) {
        clearInterval(t);
        if (onEnd) onEnd();
      }
    };
    const t = setInterval(tick, 250);
    timers.push(t);
    tick();
  }

  function quiet(textFn) {
    if (quietTimer) clearTimeout(quietTimer);
    quietTimer = setTimeout(() => say($('wait-status'), textFn(), 'warn'), PEER_QUIET_MS);
  }
  function unquiet() {
    if (quietTimer) clearTimeout(quietTimer);
    quietTimer = null;
  }

  function end() {
    unquiet();
    clearTimers();
    if (ex) {
      try { ex.cancel(); } catch { /* already over */ }
    }
    ex = null;
    app.setPending('');
  }

  async function currentProfile() {
    // The list the home screen just read, when it has one (a tap on "Show
    // my key" should not wait for the storage again).
    const all = app.profiles || await store.getAll('profiles');
    const id = $('home-profile').value || store.chosenProfile();
    return all.find((p) => p.id === id) || all[0] || null;
  }

  // --- what goes wrong --------------------------------------------------------

  function problem(title, text, { retry = null, retryLabel = 'Try again', wait = 0 } = {}) {
    end();
    $('problem-title').textContent = title;
    $('problem-text').textContent = text;
    const btn = $('problem-retry');
    btn.hidden = !retry;
    btn.textContent = retryLabel;
    btn.onclick = retry;
    const cd = $('problem-countdown');
    cd.hidden = !wait;
    if (wait) {
      btn.disabled = true;
      cd.dataset.prefix = 'You can try again in';
      countdown(cd, wait, () => {
        btn.disabled = false;
        cd.textContent = 'You can try again now.';
      });
    } else {
      btn.disabled = false;
    }
    app.show('problem', 'home');
  }

  function errorText(e) {
    switch (e.code) {
      case 'no-match':
        return 'That key did not work. Check the terminal ID and the key with the other person: the key may have a typo, have expired, or have been used already.';
      case 'self-claim':
        return 'That is your own key. Enter the key shown on the other person\'s phone.';
      case 'capacity':
        return 'The server is busy right now. Try again in a moment.';
      case 'altered':
        return 'The server changed the exchange on its way: someone may be listening in. Nothing was sent and nothing was kept.';
      case 'not-sealed':
        return 'The other terminal does not seal its card. Nothing was sent.';
      case 'sealed-required':
        return 'The server only accepts sealed exchanges, and this one was not.';
      case 'unknown-exchange':
        return 'The exchange is over on the server (it expired or the other side left). Start a new one.';
      case 'bad-card':
      case 'too-large':
        return `Your card was refused by the server (${e.code === 'too-large' ? 'it is too large; leave the photo out' : 'it is not a valid card'}).`;
      case 'unsupported':
        return e.message || 'This browser cannot seal cards.';
      default:
        return e.message ? `${e.message}.` : 'The exchange stopped.';
    }
  }

  // --- events ------------------------------------------------------------------

  function onEvent(e) {
    switch (e.type) {
      case 'offer':
        showDigits($('offer-key'), e.key);
        // Generated from a checked ID and digits only: nothing from outside in it.
        $('offer-qr').innerHTML = qrSvg(formatUri(app.session.id, e.key), { label: `QR code of ${app.session.id}'s key` });
        clearTimers();
        $('offer-countdown').dataset.prefix = 'Expires in';
        countdown($('offer-countdown'), e.expiresIn);
        say($('offer-status'), 'Waiting for the other person to enter it…');
        app.setPending('');
        app.mark('key-shown');
        break;
      case 'attempt':
        say($('offer-status'), e.attemptsLeft === 1
          ? 'Someone typed a wrong key. 1 attempt left before this key stops working.'
          : `Someone typed a wrong key. ${e.attemptsLeft} attempts left.`, 'warn');
        break;
      case 'revoked':
        if (e.reason === 'attempts') {
          problem('Key blocked', 'Too many wrong keys were typed: this key no longer works. Show a new one and read it out carefully.',
            { retry: () => startOffer(), retryLabel: 'Show a new key' });
        } else if (e.reason === 'replaced') {
          problem('Key replaced', 'Another device signed in as you showed a newer key, so this one stopped working.',
            { retry: () => startOffer(), retryLabel: 'Show a new key' });
        } else {
          problem('Key withdrawn', 'The server\'s operator withdrew your key (the terminal may be disabled).', {});
        }
        break;
      case 'expired':
        if (e.what === 'offer') {
          problem('Key expired', 'Nobody used the key in time. Show a new one when you are both ready.',
            { retry: () => startOffer(), retryLabel: 'Show a new key' });
        } else if (received) {
          end();
          say($('done-status'), `${savedMsg} The exchange ended before your card reached ${peer}.`, 'warn');
        } else {
          problem('Exchange expired', `${peer || 'The other person'} did not finish in time. Nothing was kept. Start again when you are both ready.`,
            { retry: role === 'claim' ? () => app.show('claim', 'home') : () => startOffer(), retryLabel: 'Start again' });
        }
        break;
      case 'match':
        clearTimers();
        peer = e.peer;
        stopCamera();
        $('wait-title').textContent = `Connected with ${peer}`;
        say($('wait-status'), e.sealed ? 'Agreeing on a safety code…' : 'Exchanging cards…');
        app.show('wait', 'home');
        app.setPending(`Exchange with ${peer} in progress.`);
        quiet(() => `Waiting for ${peer}. If their phone went offline, the exchange goes on when it comes back.`);
        break;
      case 'safety':
        unquiet();
        $('verify-peer').textContent = peer;
        showDigits($('verify-code'), e.code);
        app.show('verify', 'home');
        break;
      case 'sent':
        sent = true;
        if (received) {
          doneStatus();
          finish();
        } else {
          say($('wait-status'), `Your card is on its way to ${peer}. Waiting for theirs…`);
          quiet(() => `Your card will reach ${peer} when their phone comes back online. Theirs will appear here when they send it.`);
        }
        break;
      case 'card':
        unquiet();
        gotCard(e);
        break;
      case 'error':
        if (e.code === 'rate-limited') {
          problem('Too many wrong keys', 'This terminal typed too many wrong keys. Wait, then check the key with the other person.',
            { retry: retryClaim, wait: e.retryAfter || 60 });
        } else if (e.code === 'no-match' && role === 'claim') {
          end();
          app.show('claim', 'home');
          say($('claim-error'), errorText(e));
          $('claim-key').setAttribute('aria-invalid', 'true');
          $('claim-key').focus();
        } else if (e.code === 'disconnected') {
          say($('wait-status'), 'Connection lost. Reconnecting; the exchange goes on…', 'warn');
        } else {
          problem('Exchange stopped', errorText(e), { retry: role === 'claim' ? retryClaim : () => startOffer() });
        }
        break;
      default:
        break;
    }
  }

  // The result screen's line: whether the card is kept, whether ours arrived.
  function doneStatus() {
    const parts = [savedMsg || 'Saving it…'];
    if (sent) parts.push(`${peer} has your card too.`);
    else if (ex) parts.push('Sending yours…');
    say($('done-status'), parts.join(' '), savedOk ? 'ok' : 'warn');
  }

  async function gotCard(e) {
    received = { card: e.card, meta: { peer: e.from || peer, received: Date.now(), verified: !!e.verified, sealed: !!e.sealed } };
    $('done-title').textContent = `Card from ${cardName(e.card)}`;
    clear($('done-card')).append(renderCard(e.card, received.meta));
    app.show('done', 'home');
    savedMsg = '';
    savedOk = true;
    doneStatus();
    try {
      const r = await app.contacts.keep(e.card, { peer: received.meta.peer, exchange: e.exchange, verified: e.verified, sealed: e.sealed });
      savedMsg = r.updated ? 'Updated in your contacts.' : 'Saved in your contacts.';
    } catch (err) {
      savedOk = false;
      savedMsg = `Could not save it in this page's contacts (${err.message}). Use “Save to phone contacts” now so it is not lost.`;
    }
    if (sent) finish();
    doneStatus();
  }

  function finish() {
    unquiet();
    clearTimers();
    ex = null;
    app.setPending('');
  }

  function reset() {
    end();
    received = null;
    sent = false;
    peer = '';
  }

  // --- starting ------------------------------------------------------------------

  async function startOffer() {
    app.mark('tap-offer');
    reset();
    role = 'offer';
    const profile = await currentProfile();
    if (!profile) {
      app.needCard();
      return;
    }
    $('offer-id').textContent = app.session.id;
    clear($('offer-key')).append(el('span', { class: 'placeholder', text: 'Getting a key…' }));
    clear($('offer-qr'));
    $('offer-countdown').textContent = '';
    say($('offer-status'), app.session.online ? '' : 'Connecting to the server…');
    app.show('offer', 'home');
    ex = app.session.offer({ card: cardToSend(profile), ttl: app.params.ttl });
    app.mark('offer-sent');
    ex.on(onEvent);
  }

  async function startClaim(peerId, key) {
    reset();
    role = 'claim';
    const profile = await currentProfile();
    if (!profile) {
      app.needCard();
      return;
    }
    lastClaim = { peer: peerId, key };
    peer = peerId;
    $('wait-title').textContent = `Checking the key with ${peerId}`;
    say($('wait-status'), app.session.online ? 'Checking the key…' : 'Connecting to the server…');
    app.show('wait', 'home');
    ex = app.session.claim({ peer: peerId, key, card: cardToSend(profile) });
    ex.on(onEvent);
  }

  function retryClaim() {
    app.show('claim', 'home');
    if (lastClaim) {
      $('claim-id').value = lastClaim.peer;
      $('claim-key').value = lastClaim.key;
    }
    $('claim-key').focus();
  }

  function submitClaim(ev) {
    ev.preventDefault();
    const peerId = $('claim-id').value.trim();
    const key = $('claim-key').value.replace(/[\s-]/g, '');
    const err = $('claim-error');
    $('claim-id').removeAttribute('aria-invalid');
    $('claim-key').removeAttribute('aria-invalid');
    if (!app.core.idValid(peerId)) {
      say(err, peerId ? 'A terminal ID has only letters, digits, dot, dash and underscore.' : 'Type the terminal ID shown on the other phone.');
      $('claim-id').setAttribute('aria-invalid', 'true');
      $('claim-id').focus();
      return;
    }
    if (!/^[0-9]{6,16}$/.test(key)) {
      say(err, 'The key is 6 to 16 digits, as shown on the other phone.');
      $('claim-key').setAttribute('aria-invalid', 'true');
      $('claim-key').focus();
      return;
    }
    if (peerId === app.session.id) {
      say(err, 'That is your own terminal ID. Type the other person\'s.');
      $('claim-id').setAttribute('aria-invalid', 'true');
      $('claim-id').focus();
      return;
    }
    say(err, '');
    startClaim(peerId, key);
  }

  // --- the camera ---------------------------------------------------------------

  function stopCamera() {
    if (stopScan) stopScan();
    stopScan = null;
    $('scan-box').hidden = true;
    $('claim-scan').hidden = false;
  }

  async function scan() {
    const status = $('scan-status');
    $('scan-box').hidden = false;
    $('claim-scan').hidden = true;
    say(status, 'Starting the camera…');
    try {
      stopScan = await startScan($('scan-video'), (text) => {
        const got = app.core.parseQr(text);
        if (!got) {
          say(status, 'That QR code is not a cardex key. Point at the code on the other phone.', 'warn');
          return false;
        }
        $('claim-id').value = got.id;
        $('claim-key').value = got.key;
        say(status, `Read ${got.id}'s key.`, 'ok');
        stopScan = null;
        $('scan-box').hidden = true;
        $('claim-scan').hidden = false;
        startClaim(got.id, got.key);
        return true;
      });
      say(status, 'Point the camera at the QR code on the other phone.');
    } catch (e) {
      stopCamera();
      say($('claim-error'), cameraError(e));
    }
  }

  // --- wiring ----------------------------------------------------------------------

  $('home-offer').addEventListener('click', () => startOffer());
  $('home-claim').addEventListener('click', () => {
    say($('claim-error'), '');
    app.show('claim', 'home');
    $('claim-id').focus();
  });
  $('offer-renew').addEventListener('click', () => startOffer());
  $('offer-cancel').addEventListener('click', () => { reset(); app.show('home'); });
  $('claim-form').addEventListener('submit', submitClaim);
  $('claim-cancel').addEventListener('click', () => { stopCamera(); reset(); app.show('home'); });
  $('claim-scan').addEventListener('click', scan);
  $('scan-stop').addEventListener('click', stopCamera);
  $('wait-cancel').addEventListener('click', () => { reset(); app.show('home'); });
  $('verify-yes').addEventListener('click', () => {
    if (!ex) return;
    ex.confirm(true);
    $('wait-title').textContent = `Exchanging cards with ${peer}`;
    say($('wait-status'), app.session.online ? 'Codes match. Sending your card…'
      : 'Codes match. Your card goes out as soon as this phone is back online.', 'ok');
    app.show('wait', 'home');
    quiet(() => `Waiting for ${peer} to confirm the code. If their phone went offline, your card will reach them when they come back.`);
  });
  $('verify-no').addEventListener('click', () => {
    if (ex) ex.confirm(false);
    problem('Exchange stopped', 'The codes differed, so nothing was sent and nothing was kept. Someone may have been in the middle: try again, face to face.',
      { retry: role === 'claim' ? retryClaim : () => startOffer(), retryLabel: 'Start again' });
  });
  $('done-home').addEventListener('click', () => {
    if (!ex) reset();
    app.show('home');
  });
  $('done-save').addEventListener('click', () => received && app.contacts.saveToPhone(received.card, $('done-status')));
  $('problem-home').addEventListener('click', () => { reset(); app.show('home'); });

  return {
    startOffer, startClaim, stopCamera,
    busy: () => !!ex,
  };
}
