// The card profiles the user keeps ("Work", "Private"): a jCard split into
// lines, each with a "share" tick. No DOM here.
//
// profile = { id, label, fields: [{ prop: jCardProperty, share: bool }], updated }
//
// VERSION is not a field (every card sent is 4.0); FN is always shared, and
// so is UID (the peer updates its entry for us next time instead of adding a
// second one). A property with a group ("item1") goes with a shared property
// of the same group (Apple's item1.X-ABLabel beside item1.TEL).

export const ALWAYS = new Set(['fn', 'uid']);
export const EDITABLE = {
  fn: { label: 'Full name', input: 'text', autocomplete: 'name' },
  tel: { label: 'Phone', input: 'tel', autocomplete: 'tel', type: 'uri', prefix: 'tel:' },
  email: { label: 'Email', input: 'email', autocomplete: 'email' },
  url: { label: 'Website', input: 'url', autocomplete: 'url', type: 'uri' },
  org: { label: 'Organisation', input: 'text', autocomplete: 'organization' },
  title: { label: 'Job title', input: 'text', autocomplete: 'organization-title' },
  adr: { label: 'Address', input: 'textarea', autocomplete: 'street-address', hint: 'Street, town, postcode, country: one per line' },
  note: { label: 'Note', input: 'textarea' },
  nickname: { label: 'Nickname', input: 'text', autocomplete: 'nickname' },
  bday: { label: 'Birthday', input: 'text', type: 'date-and-or-time' },
};
const NAMES = {
  n: 'Name parts', photo: 'Photo', uid: 'Unique ID', categories: 'Categories', 'x-ablabel': 'Label',
  impp: 'Chat', role: 'Role', gender: 'Gender', lang: 'Language', tz: 'Time zone', geo: 'Location',
  logo: 'Logo', key: 'Public key', rev: 'Revision', prodid: 'Made by', kind: 'Kind',
};

export function fieldName(prop) {
  return (EDITABLE[prop[0]] && EDITABLE[prop[0]].label) || NAMES[prop[0]] || prop[0].toUpperCase();
}

// The editable text of a property (what goes in the input).
export function fieldText(prop) {
  const v = prop.slice(3);
  const flat = (x) => (Array.isArray(x) ? x.map(flat).join(' ') : x === null || x === undefined ? '' : String(x));
  if (prop[0] === 'adr') {
    const p = Array.isArray(v[0]) ? v[0] : v;
    // [pobox, ext, street, locality, region, code, country]
    return [p[2], p[3], [p[5], p[4]].filter(Boolean).map(flat).join(' '), p[6]].map((x) => flat(x ?? '')).filter(Boolean).join('\n');
  }
  if (prop[0] === 'org') return (Array.isArray(v[0]) ? v[0] : v).map(flat).filter(Boolean).join('; ');
  if (prop[0] === 'tel') return flat(v[0]).replace(/^tel:/i, '').replace(/-/g, ' ');
  return v.map(flat).join(', ');
}

// The property for an edited text, keeping the old one's parameters.
export function fieldFromText(old, name, text) {
  const params = old ? old[1] : {};
  const t = String(text).trim();
  const spec = EDITABLE[name] || {};
  let type = old ? old[2] : spec.type || 'text';
  if (name === 'adr') {
    const lines = t.split(/\n+/).map((s) => s.trim()).filter(Boolean);
    return [name, params, 'text', ['', '', lines[0] || '', lines[1] || '', '', lines[2] || '', lines.slice(3).join(', ')]];
  }
  if (name === 'org') return [name, params, 'text', t.split(/\s*;\s*/)];
  if (name === 'tel') {
    // A tel: URI (RFC 3966) keeps the grouping with '-' as visual separators.
    return [name, params, 'uri', `tel:${t.replace(/\s+/g, '-')}`];
  }
  return [name, params, type, t];
}

const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');

// A profile from a jCard (an import or a new card).
export function profileFromCard(card, label) {
  const props = Array.isArray(card) && Array.isArray(card[1]) ? card[1] : [];
  const fields = props.filter((p) => Array.isArray(p) && p[0] !== 'version' && !/^x-cardex-/i.test(p[0]))
    .map((p) => ({ prop: JSON.parse(JSON.stringify(p)), share: true }));
  if (!fields.some((f) => f.prop[0] === 'fn')) fields.unshift({ prop: ['fn', {}, 'text', ''], share: true });
  return { id: newId(), label: label || 'My card', fields, updated: Date.now() };
}

export function emptyProfile(label) {
  return profileFromCard(['vcard', [['fn', {}, 'text', '']]], label);
}

// The name parts (N) from a full name when the card has none: vCard 3.0
// requires N, and phones file contacts by it.
function nFromFn(fn) {
  const words = fn.trim().split(/\s+/);
  const family = words.length > 1 ? words.pop() : '';
  return ['n', {}, 'text', [family, words.join(' '), '', '', '']];
}

// Checks a profile before it is stored; returns a sentence or ''.
export function profileProblem(p) {
  const fn = p.fields.find((f) => f.prop[0] === 'fn');
  if (!p.label || !p.label.trim()) return 'Give this card a name, such as "Work".';
  if (!fn || !fieldText(fn.prop).trim()) return 'The full name is needed: it is what the other person sees first.';
  for (const f of p.fields) {
    if (f.prop[0] === 'email' && fieldText(f.prop) && !/^[^\s@]+@[^\s@]+$/.test(fieldText(f.prop))) {
      return `"${fieldText(f.prop)}" does not look like an email address.`;
    }
    if (f.prop[0] === 'tel' && fieldText(f.prop) && !/^[+0-9][0-9 ()./-]*$/.test(fieldText(f.prop).trim())) {
      return `"${fieldText(f.prop)}" does not look like a phone number.`;
    }
  }
  return '';
}

// The jCard sent in an exchange: VERSION 4.0, the shared lines (FN and UID
// always), the lines grouped with a shared one, N made up when missing, and
// empty lines left out.
export function cardToSend(p) {
  const shared = p.fields.filter((f) => (f.share || ALWAYS.has(f.prop[0])) && fieldText(f.prop).trim() !== '');
  const groups = new Set(shared.map((f) => f.prop[1] && f.prop[1].group).filter(Boolean));
  const out = p.fields.filter((f) => shared.includes(f) || (f.prop[1] && f.prop[1].group && groups.has(f.prop[1].group) && f.prop[0] !== 'version'))
    .map((f) => f.prop);
  if (!out.some((q) => q[0] === 'n')) {
    const fn = out.find((q) => q[0] === 'fn');
    if (fn) out.splice(1, 0, nFromFn(fieldText(fn)));
  }
  return ['vcard', [['version', {}, 'text', '4.0'], ...out]];
}

// "Name, phone, email" of what the profile sends, for the exchange screen.
export function sharedSummary(p) {
  const names = [];
  for (const f of p.fields) {
    if (!(f.share || ALWAYS.has(f.prop[0])) || !fieldText(f.prop).trim()) continue;
    if (['uid', 'n', 'x-ablabel'].includes(f.prop[0])) continue; // parts of other lines
    const n = f.prop[0] === 'fn' ? 'Name' : fieldName(f.prop);
    if (!names.includes(n)) names.push(n);
  }
  return names.join(', ');
}
