// The page: screens, tabs, sign-in, and the connection status. Each screen
// is a <section> of index.html; the views (cards.js, contacts.js,
// exchange.js) fill them. The protocol is the core's (../core/).
import '../cardex.css';
import { $, say } from './dom.js';
import * as store from './store.js';
import { createCards } from './cards.js';
import { createContacts } from './contacts.js';
import { createExchange } from './exchange.js';
import { sharedSummary } from './profile.js';
import { createSession, brokerUrl, core } from './session.js';
import { x25519Supported } from '../core/seal.js';

const SCREENS = ['signin', 'home', 'offer', 'claim', 'wait', 'verify', 'done', 'problem', 'cards', 'edit', 'contacts', 'contact'];

function readParams() {
  const q = new URLSearchParams(location.search);
  const ttl = Number.parseInt(q.get('ttl') || '', 10);
  return {
    broker: brokerUrl(location, q.get('broker')),
    ttl: Number.isInteger(ttl) && ttl >= 5 && ttl <= 600 ? ttl : undefined,
  };
}

const app = {
  core,
  params: readParams(),
  session: null,
  profiles: null, // the cards as the home screen last read them; null: read again
  screen: '',
  marks: {},

  // Shows one screen; tab is the bottom tab it belongs to. Focus goes to the
  // screen's heading so that a screen reader says where the user is.
  show(name, tab = name) {
    for (const s of SCREENS) $(`screen-${s}`).hidden = s !== name;
    app.screen = name;
    document.body.dataset.screen = name;
    const signedIn = name !== 'signin';
    $('tabs').hidden = !signedIn;
    document.body.classList.toggle('no-tabs', !signedIn);
    for (const b of document.querySelectorAll('#tabs button')) {
      if (b.dataset.tab === tab) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
    const h = document.querySelector(`#screen-${name} h2`);
    if (h) {
      h.setAttribute('tabindex', '-1');
      h.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  },

  mark(name) {
    app.marks[name] = performance.now();
    try { performance.mark(`cardex:${name}`); } catch { /* old browser */ }
  },

  setPending(text) {
    say($('home-pending'), text);
    $('home-pending').hidden = !text;
  },

  needCard() {
    app.cards.newCard();
    say($('edit-error'), 'Make your card first: it is what the other person receives.');
  },
};

// --- connection status in the header ------------------------------------------

function onStatus(s) {
  const conn = $('conn');
  conn.dataset.state = s.state;
  const text = {
    connecting: 'Connecting…',
    online: `Online as ${s.id || ''}`,
    offline: navigator.onLine === false ? 'No network: reconnecting when it is back'
      : s.retryIn ? `Server unreachable, retrying in ${s.retryIn} s` : 'Server unreachable, retrying…',
    idle: 'Not signed in',
  }[s.state] || s.state;
  if (conn.textContent !== text) conn.textContent = text;
  if (s.state === 'online') {
    app.mark('online');
    if (app.screen === 'offer' && $('offer-status').textContent === 'Connecting to the server…') say($('offer-status'), '');
  }
}

// --- sign in -------------------------------------------------------------------------

// A session refused by the server (a wrong password, or one changed since
// it was remembered): back to the sign-in form, the ID kept.
function refused(session) {
  session.stop();
  if (app.session === session) app.session = null;
  store.forgetLogin();
  app.exchange.stopCamera();
  say($('signin-error'), 'The server refused this terminal ID or password. Check them and try again.');
  showSignin();
  onStatus({ state: 'idle' });
  $('signin-pw').focus();
}

// Signs in. A remembered sign-in (background) shows the page at once and
// connects behind it, retrying while the server is unreachable; a typed one
// waits for the server's answer, so that a wrong password is said at once.
async function signIn(id, password, remember, { background = false } = {}) {
  const err = $('signin-error');
  const btn = $('signin-submit');
  say(err, '');
  const session = createSession({ url: app.params.broker, id, password, device: await store.sessionDevice(), onStatus });
  session.onAuthFailed = () => refused(session);
  if (background) {
    app.session = session;
    const started = session.start();
    await showHome();
    const r = await started;
    if (!r.ok && r.reason === 'refused') {
      session.stop();
      say(err, `The server did not accept this page's connection (${r.message}).`);
      showSignin();
    }
    return r.ok;
  }
  btn.disabled = true;
  const r = await session.start({ quick: true });
  btn.disabled = false;
  if (!r.ok) {
    if (r.reason === 'auth') return false; // refused() has said so
    session.stop();
    say(err, `The server at ${app.params.broker} could not be reached (${r.message}). Check the network and try again.`);
    showSignin();
    $('conn').dataset.state = 'offline';
    $('conn').textContent = 'Server unreachable';
    return false;
  }
  if (remember) store.rememberLogin(id, password);
  else store.forgetLogin();
  app.session = session;
  $('signin-pw').value = '';
  await showHome();
  return true;
}

function showSignin() {
  $('signin-broker').textContent = app.params.broker;
  app.show('signin');
}

async function showHome() {
  const sel = $('home-profile');
  let profiles = [];
  try {
    profiles = await app.cards.list();
    app.profiles = profiles;
  } catch (e) {
    say($('home-pending'), `Your cards could not be read: ${e.message}`);
  }
  sel.textContent = '';
  for (const p of profiles) {
    const o = document.createElement('option');
    o.value = p.id;
    o.textContent = p.label;
    sel.append(o);
  }
  const chosen = store.chosenProfile();
  if (profiles.some((p) => p.id === chosen)) sel.value = chosen;
  const p = profiles.find((x) => x.id === sel.value);
  $('home-fields').textContent = p ? `Sends: ${sharedSummary(p)}` : '';
  $('home-nocard').hidden = profiles.length > 0;
  // No card yet: no empty choice to show, only the way to make one.
  sel.hidden = profiles.length === 0;
  document.querySelector('label[for="home-profile"]').hidden = profiles.length === 0;
  app.show('home');
  app.mark('home-shown');
}

// --- start ------------------------------------------------------------------------------

async function main() {
  app.mark('start');
  // Opening the storage takes a while on a slow phone: start it now, beside
  // the connection, rather than when the home screen asks for the cards.
  store.openDb().catch(() => {});
  store.persist();
  // Sealing needs WebCrypto X25519; say so on the exchange screen at once
  // rather than after a key was typed.
  x25519Supported().then((ok) => { $('home-unsupported').hidden = ok; });
  app.cards = createCards(app);
  app.contacts = createContacts(app);
  app.exchange = createExchange(app);

  $('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('signin-id').value.trim();
    const pw = $('signin-pw').value;
    $('signin-id').removeAttribute('aria-invalid');
    if (!core.idValid(id)) {
      say($('signin-error'), id ? 'A terminal ID has only letters, digits, dot, dash and underscore (at most 64).' : 'Type your terminal ID.');
      $('signin-id').setAttribute('aria-invalid', 'true');
      $('signin-id').focus();
      return;
    }
    if (!pw) {
      say($('signin-error'), 'Type your password.');
      $('signin-pw').focus();
      return;
    }
    signIn(id, pw, $('signin-remember').checked);
  });

  for (const b of document.querySelectorAll('#tabs button')) {
    b.addEventListener('click', () => {
      const tab = b.dataset.tab;
      app.exchange.stopCamera();
      if (tab === 'home') showHome();
      else if (tab === 'cards') { app.show('cards'); app.cards.showList(); }
      else { app.show('contacts'); app.contacts.showList(); }
    });
  }
  $('home-profile').addEventListener('change', () => {
    store.chooseProfile($('home-profile').value);
    showHome();
  });
  $('home-make').addEventListener('click', () => app.cards.newCard());
  $('contacts-signout').addEventListener('click', () => {
    if (app.exchange.busy() && !window.confirm('An exchange is in progress. Sign out anyway?')) return;
    app.exchange.stopCamera();
    if (app.session) app.session.stop();
    app.session = null;
    store.forgetLogin();
    $('signin-id').value = '';
    onStatus({ state: 'idle' });
    showSignin();
  });

  const remembered = store.rememberedLogin();
  if (remembered) {
    $('signin-id').value = remembered.id;
    $('signin-remember').checked = true;
    $('conn').dataset.state = 'connecting';
    $('conn').textContent = 'Connecting…';
    await signIn(remembered.id, remembered.password, true, { background: true });
  } else {
    showSignin();
  }
}

window.cardexApp = app;
main().catch((e) => {
  document.body.textContent = `The page could not start: ${e.message}`;
});
