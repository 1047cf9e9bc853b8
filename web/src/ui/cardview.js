// A jCard shown as a card: name, role, then one line per phone, email,
// website, address, birthday, note. Values are text nodes only (a card is
// untrusted input); links are made only for tel:, mailto: and http(s):.
import { el, when } from './dom.js';

const LABELS = {
  tel: 'Phone', email: 'Email', url: 'Website', adr: 'Address', bday: 'Birthday',
  note: 'Note', impp: 'Chat', nickname: 'Nickname', role: 'Role',
};

function text(v) {
  if (Array.isArray(v)) return v.map(text).filter((s) => s !== '').join(', ');
  return v === null || v === undefined ? '' : String(v);
}

// The value(s) of a property, as one string; structured values (n, adr, org)
// joined with the separator that reads best.
export function propText(prop) {
  const values = prop.slice(3);
  if (prop[0] === 'adr') {
    const parts = Array.isArray(values[0]) ? values[0] : values;
    return parts.map(text).filter((s) => s !== '').join('\n');
  }
  if (prop[0] === 'org') {
    const parts = Array.isArray(values[0]) ? values[0] : values;
    return parts.map(text).filter((s) => s !== '').join(' · ');
  }
  return values.map(text).filter((s) => s !== '').join(', ');
}

export function first(card, name) {
  const props = Array.isArray(card) && Array.isArray(card[1]) ? card[1] : [];
  return props.find((p) => Array.isArray(p) && p[0] === name) || null;
}

function typesOf(prop) {
  const t = prop[1] && prop[1].type;
  const list = Array.isArray(t) ? t : t ? String(t).split(',') : [];
  return list.map((s) => s.toLowerCase()).filter((s) => s !== 'pref' && s !== 'voice' && s !== 'internet');
}

function link(prop, value) {
  const name = prop[0];
  if (name === 'tel') {
    const num = value.replace(/^tel:/i, '');
    return el('a', { href: `tel:${num.replace(/[^0-9+*#,;]/g, '')}`, text: num.replace(/-/g, ' ') });
  }
  if (name === 'email') return el('a', { href: `mailto:${value}`, text: value });
  if (name === 'url' && /^https?:\/\//i.test(value)) {
    return el('a', { href: value, rel: 'noopener noreferrer', target: '_blank', text: value.replace(/^https?:\/\//i, '') });
  }
  return null;
}

function initials(fn) {
  const words = fn.trim().split(/\s+/).filter(Boolean);
  const s = words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || '?').slice(0, 2);
  return s.toUpperCase();
}

// A photo is shown only when it is inline data (a data: URI of an image):
// fetching a URL from a card would tell a third host who looked at it.
function photo(card) {
  const p = first(card, 'photo');
  if (!p) return null;
  const v = String(p[3] || '');
  if (/^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$/.test(v)) return v;
  return null;
}

// meta: {peer, received, verified, sealed} shown under the card when given.
export function renderCard(card, meta = null) {
  const props = Array.isArray(card) && Array.isArray(card[1]) ? card[1] : [];
  const fnProp = first(card, 'fn');
  const fn = fnProp ? propText(fnProp) : '(no name)';
  const role = [first(card, 'title'), first(card, 'org')].filter(Boolean).map(propText).filter(Boolean).join(' · ');
  const pic = photo(card);
  const head = el('div', { class: 'who' },
    pic ? el('img', { class: 'avatar', src: pic, alt: '' }) : el('div', { class: 'avatar', 'aria-hidden': 'true', text: initials(fn) }),
    el('div', {}, el('p', { class: 'fn', text: fn }), role ? el('p', { class: 'role', text: role }) : null));
  const dl = el('dl');
  for (const p of props) {
    if (!Array.isArray(p) || !LABELS[p[0]]) continue;
    const value = propText(p);
    if (!value) continue;
    const types = typesOf(p);
    const label = LABELS[p[0]] + (types.length ? ` (${types.join(', ')})` : '');
    dl.append(el('dt', { text: label }), el('dd', {}, link(p, value) || value));
  }
  const box = el('article', { class: 'vcard', 'aria-label': `Card of ${fn}` }, head, dl.childNodes.length ? dl : null);
  if (meta) {
    const parts = [];
    if (meta.peer) parts.push(`From terminal ${meta.peer}`);
    if (meta.received) parts.push(when(meta.received));
    const m = el('p', { class: 'meta', text: parts.join(' · ') });
    if (meta.verified) m.append(el('br'), el('span', { class: 'verified', text: '✓ Safety code compared' }));
    else if (meta.sealed) m.append(el('br'), el('span', { text: 'Sealed; safety code not compared' }));
    else m.append(el('br'), el('span', { text: 'Not sealed' }));
    box.append(m);
  }
  return box;
}

export function cardName(card) {
  const p = first(card, 'fn');
  return p ? propText(p) : '(no name)';
}
