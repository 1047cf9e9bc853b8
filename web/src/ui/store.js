// What the page keeps on the phone. Cards and contacts live in IndexedDB
// (database "cardex", one store each); the sign-in is in localStorage only
// when the user ticked "remember on this device". Nothing here leaves the
// phone except through an exchange the user starts.

const DB_NAME = 'cardex';
const DB_VERSION = 1;
let dbPromise = null;

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error || new Error('storage request failed'));
  });
}

// Opens the database once; rejects when the browser refuses storage
// (private mode in some browsers, storage disabled).
export function openDb() {
  if (dbPromise) return dbPromise;
  dbPromise = new Promise((resolve, reject) => {
    if (!('indexedDB' in globalThis)) {
      reject(new Error('this browser keeps no data for pages (IndexedDB is missing)'));
      return;
    }
    const r = indexedDB.open(DB_NAME, DB_VERSION);
    r.onupgradeneeded = () => {
      const db = r.result;
      if (!db.objectStoreNames.contains('profiles')) db.createObjectStore('profiles', { keyPath: 'id' });
      if (!db.objectStoreNames.contains('contacts')) {
        const s = db.createObjectStore('contacts', { keyPath: 'id' });
        s.createIndex('received', 'received');
      }
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error || new Error('could not open the page\'s storage'));
    r.onblocked = () => reject(new Error('the page\'s storage is busy in another tab'));
  });
  dbPromise.catch(() => { dbPromise = null; });
  return dbPromise;
}

async function tx(storeName, mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(storeName, mode);
    let out;
    t.oncomplete = () => resolve(out);
    t.onerror = () => reject(t.error || new Error('storage transaction failed'));
    t.onabort = () => reject(t.error || new Error('storage transaction aborted'));
    Promise.resolve(fn(t.objectStore(storeName))).then((v) => { out = v; }, reject);
  });
}

export const getAll = (store) => tx(store, 'readonly', (s) => req(s.getAll()));
export const get = (store, id) => tx(store, 'readonly', (s) => req(s.get(id)));
export const put = (store, value) => tx(store, 'readwrite', (s) => req(s.put(value)));
export const remove = (store, id) => tx(store, 'readwrite', (s) => req(s.delete(id)));

// Asks the browser not to evict the data under storage pressure (a phone's
// contacts should not vanish); a refusal changes nothing else.
export function persist() {
  try {
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
  } catch { /* not offered */ }
}

// --- settings (localStorage): never the password unless remembered ---------

const LS_LOGIN = 'cardex.login';
const LS_DEVICE = 'cardex.device';
const LS_PROFILE = 'cardex.profile';

function lsGet(k) {
  try { return localStorage.getItem(k); } catch { return null; }
}
function lsSet(k, v) {
  try {
    if (v === null) localStorage.removeItem(k);
    else localStorage.setItem(k, v);
  } catch { /* storage refused: the page still works for this visit */ }
}

export function rememberedLogin() {
  try {
    const v = JSON.parse(lsGet(LS_LOGIN) || 'null');
    if (v && typeof v.id === 'string' && typeof v.password === 'string') return v;
  } catch { /* a damaged entry is dropped below */ }
  lsSet(LS_LOGIN, null);
  return null;
}
export function rememberLogin(id, password) { lsSet(LS_LOGIN, JSON.stringify({ id, password })); }
export function forgetLogin() { lsSet(LS_LOGIN, null); }

// A random tag for this browser, so that its MQTT session (client ID
// "<id>:web-<tag>") is the same at every visit and replies queued while the
// phone was away reach it when it comes back.
export function deviceTag() {
  let t = lsGet(LS_DEVICE);
  if (!t || !/^[a-z0-9]{8,16}$/.test(t)) {
    const b = crypto.getRandomValues(new Uint8Array(6));
    t = Array.from(b, (x) => x.toString(36).padStart(2, '0')).join('').slice(0, 10);
    lsSet(LS_DEVICE, t);
  }
  return t;
}

export const chosenProfile = () => lsGet(LS_PROFILE);
export const chooseProfile = (id) => lsSet(LS_PROFILE, id);

// The device part of this tab's MQTT client ID. The first tab of the
// browser holds a lock and gets the stable "<tag>", whose session keeps
// replies while the page is closed; a second tab open at the same time gets
// "<tag>-<random>", a session of its own: two tabs under one client ID
// would take the session from each other at every reconnect.
let suffixPromise = null;
export function sessionDevice() {
  if (suffixPromise) return suffixPromise;
  const tag = deviceTag();
  const other = () => `${tag}-${Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) => b.toString(16).padStart(2, '0')).join('')}`;
  if (!navigator.locks || !navigator.locks.request) {
    suffixPromise = Promise.resolve(tag);
    return suffixPromise;
  }
  suffixPromise = new Promise((resolve) => {
    navigator.locks.request(`cardex-session-${tag}`, { ifAvailable: true }, (lock) => {
      if (!lock) {
        resolve(other());
        return undefined;
      }
      resolve(tag);
      return new Promise(() => {}); // held while this tab lives
    }).catch(() => resolve(other()));
  });
  return suffixPromise;
}
