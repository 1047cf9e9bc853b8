// The card model of common/card.h in JavaScript: a business card as an
// ordered list of vCard 4.0 properties, read from and written to vCard text
// (4.0, 3.0 and 2.1 read; 4.0 and 3.0 written) and jCard (the wire form),
// with the same rules as the C side, so that a card the page makes is a
// card the CLI reads back unchanged, and the other way round.
//
// A card is { props: [prop, ...] } without VERSION. A prop is
//   { group: "" | "item1", name: "tel" (lowercase), type: "text" | "uri" | ...,
//     params: [{ name: "type" (lowercase), values: ["work", "voice"] }, ...],
//     values: [ [ [string, ...] component, ... ] value, ... ] }
// "N:Lovelace;Ada;;;" is one value of five components of one string each;
// "CATEGORIES:a,b" two values. Strings are text without escapes (except in
// values of type "unknown", kept as written) and hold no carriage return.
// Date and time values are held in the basic form ("19850412").

export const MAX_PROPS = 512;
/* The PHOTO limit of the CLI (CX_VCARD_PHOTO_MAX_DEFAULT): 256 KiB of data: URI. */
export const PHOTO_MAX = 256 * 1024;

/** A card that cannot be read: code as in card.h ("no-fn", "syntax", ...), line (1-based, 0: none), prop. */
export class CardError extends Error {
  constructor(code, message, line = 0, prop = '') {
    super(`${line ? `line ${line}: ` : ''}${prop ? `${prop}: ` : ''}${message || MESSAGES[code] || code}`);
    this.code = code;
    this.line = line;
    this.prop = prop;
    this.why = message || MESSAGES[code] || code;
  }
}

const MESSAGES = {
  invalid: 'invalid argument',
  syntax: 'malformed content line',
  'no-colon': "content line has no ':' after the property name",
  escape: 'invalid backslash escape in a text value',
  utf8: 'invalid UTF-8',
  truncated: 'card ends without END:VCARD',
  'begin-end': 'BEGIN:VCARD and END:VCARD do not match',
  version: 'missing or unsupported VERSION (2.1, 3.0, 4.0 are read)',
  'no-fn': 'card has no FN property',
  'photo-size': 'PHOTO is larger than the size limit',
  limit: 'card has too many properties',
  jcard: 'not a valid jCard',
  extra: 'text after END:VCARD',
  empty: 'the input holds no card',
  property: 'property value or parameter does not fit the property',
  charset: 'value is not text of the character set its CHARSET names',
};

// ---- the property table (RFC 6350 section 6), as card.c ----

const SINGLE = 0;
const MULTI = 1;
const STRUCT = 2;
const STRUCT_LIST = 3;
const GENERIC = 4;

const INFOS = {
  source: ['uri', SINGLE], kind: ['text', SINGLE], xml: ['text', SINGLE], fn: ['text', SINGLE],
  n: ['text', STRUCT_LIST], nickname: ['text', MULTI], photo: ['uri', SINGLE],
  bday: ['date-and-or-time', SINGLE], anniversary: ['date-and-or-time', SINGLE], gender: ['text', STRUCT],
  adr: ['text', STRUCT_LIST], tel: ['text', SINGLE], email: ['text', SINGLE], impp: ['uri', SINGLE],
  lang: ['language-tag', SINGLE], tz: ['text', SINGLE], geo: ['uri', SINGLE], title: ['text', SINGLE],
  role: ['text', SINGLE], logo: ['uri', SINGLE], org: ['text', STRUCT], member: ['uri', SINGLE],
  related: ['uri', SINGLE], categories: ['text', MULTI], note: ['text', SINGLE], prodid: ['text', SINGLE],
  rev: ['timestamp', SINGLE], sound: ['uri', SINGLE], uid: ['uri', SINGLE], clientpidmap: ['text', STRUCT],
  url: ['uri', SINGLE], key: ['uri', SINGLE], fburl: ['uri', SINGLE], caladruri: ['uri', SINGLE],
  caluri: ['uri', SINGLE],
};

const info = (name) => (Object.prototype.hasOwnProperty.call(INFOS, name) ? INFOS[name] : null);
export const defaultType = (name) => (info(name.toLowerCase()) || ['unknown'])[0];
const kindOf = (name) => (info(name) || [null, GENERIC])[1];
const DATE_TYPES = new Set(['date', 'time', 'date-time', 'date-and-or-time', 'timestamp', 'utc-offset']);
const LIST_TYPES = new Set(['integer', 'float', 'date', 'time', 'date-time', 'date-and-or-time', 'timestamp']);
const isDateType = (t) => DATE_TYPES.has(t);
const isListType = (t) => LIST_TYPES.has(t);
const TOKEN_RE = /^[A-Za-z0-9-]+$/;
const isToken = (s) => typeof s === 'string' && TOKEN_RE.test(s);
const isDelimiter = (s) => /^(begin|end)$/i.test(s);
const allDigits = (s) => /^[0-9]*$/.test(s);

// ---- date and time forms (RFC 6350 4.3, RFC 7095 3.5), as card.c ----

function dateExt(s) {
  if (s.length === 8 && allDigits(s)) return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
  if (s.length === 6 && s.startsWith('--') && allDigits(s.slice(2))) return `--${s.slice(2, 4)}-${s.slice(4, 6)}`;
  return s;
}

function dateBasic(s) {
  if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(s)) return s.slice(0, 4) + s.slice(5, 7) + s.slice(8, 10);
  if (/^--[0-9]{2}-[0-9]{2}$/.test(s)) return `--${s.slice(2, 4)}${s.slice(5, 7)}`;
  return s;
}

function pairsExt(s) {
  if (s.length === 0 || s.length % 2 !== 0 || !allDigits(s)) return null;
  return s.match(/../g).join(':');
}

function zoneExt(s) {
  if (/^[+-][0-9]{4}$/.test(s)) return `${s.slice(0, 3)}:${s.slice(3)}`;
  return s;
}

function timeExt(s) {
  let z = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === 'Z' || c === 'z' || c === '+' || (c === '-' && i > 0 && /[0-9]/.test(s[i - 1]))) {
      z = i;
      break;
    }
  }
  let k = 0;
  while (k < z && k < 2 && s[k] === '-') k++;
  const p = pairsExt(s.slice(k, z));
  if (p === null) return s;
  return s.slice(0, k) + p + zoneExt(s.slice(z));
}

const timeBasic = (s) => s.replace(/:/g, '');

function dateConvert(type, s, toExt) {
  // Longer values are no date the conversions know; they stay (card.c, in bytes).
  if (utf8Length(s) > 40) return s;
  if (type === 'date') return toExt ? dateExt(s) : dateBasic(s);
  if (type === 'time') return toExt ? timeExt(s) : timeBasic(s);
  if (type === 'utc-offset') return toExt ? zoneExt(s) : timeBasic(s);
  let t = s.indexOf('T');
  if (t < 0) t = s.indexOf('t');
  const d = t >= 0 ? s.slice(0, t) : s;
  let out = toExt ? dateExt(d) : dateBasic(d);
  if (t >= 0) out += `T${toExt ? timeExt(s.slice(t + 1)) : timeBasic(s.slice(t + 1))}`;
  return out;
}

const toBasic = (type, s) => dateConvert(type, s, false);
const toExt = (type, s) => dateConvert(type, s, true);

// ---- byte strings ----
// The reader works, as the C one, on bytes: a "byte string" holds one byte
// per character (0-255). Values are turned into text at the end.

const utf8 = new TextEncoder();
const utf8Length = (s) => utf8.encode(s).length;

function toByteString(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  return s;
}

function bytesOf(bs) {
  const b = new Uint8Array(bs.length);
  for (let i = 0; i < bs.length; i++) b[i] = bs.charCodeAt(i);
  return b;
}

/* Text of a UTF-8 byte string, or null when it is not UTF-8. */
function fromUtf8(bs) {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytesOf(bs));
  } catch {
    return null;
  }
}

/* UTF-8 byte string of text. */
const utf8Bytes = (s) => toByteString(utf8.encode(s));

// ---- the model ----

function newProp(name, type, group = '') {
  return { group, name, type, params: [], values: [] };
}

function pushParam(p, name, value) {
  const n = name.toLowerCase();
  let q = p.params.find((x) => x.name === n);
  if (!q) {
    q = { name: n, values: [] };
    p.params.push(q);
  }
  q.values.push(value);
}

const paramIndex = (p, name) => p.params.findIndex((q) => q.name === name);
const param1 = (p, name) => {
  const q = p.params.find((x) => x.name === name);
  return q && q.values.length === 1 ? q.values[0] : null;
};
function dropParam(p, name) {
  const i = paramIndex(p, name);
  if (i >= 0) p.params.splice(i, 1);
}

const plainValues = (p) => p.values.every((v) => v.length === 1 && v[0].length === 1);
const valuesHold = (p, c) => p.values.some((v) => v.some((comp) => comp.some((s) => s.includes(c))));
const oneString = (p) => p.values.length === 1 && p.values[0].length === 1 && p.values[0][0].length === 1;
const first = (p) => p.values[0][0][0];
const setFirst = (p, s) => {
  p.values[0][0][0] = s;
};

function rawProblem(p, kind) {
  if (!plainValues(p)) return 'a value of a type other than text is one string, not a structured value or a list';
  if (kind !== GENERIC || !isListType(p.type)) return p.values.length === 1 ? null : 'property takes one value of this type';
  if (valuesHold(p, ',')) return "a ',' cannot be written in an integer, float, date or time value (it separates values)";
  return null;
}

function textProblem(p, kind) {
  switch (kind) {
    case SINGLE:
      return p.values.length === 1 && plainValues(p) ? null : 'property takes one text value, not several, a structured one or a list';
    case MULTI:
      return plainValues(p) ? null : 'a value of this text-list property is one string, not structured';
    case STRUCT:
      if (p.values.length !== 1) return 'structured property takes one value';
      return p.values[0].every((c) => c.length === 1) ? null : 'a component of this structured property is one string, not a list';
    case STRUCT_LIST:
      return p.values.length === 1 ? null : 'structured property takes one value';
    default:
      if (plainValues(p) || (p.values.length === 1 && p.values[0].length >= 2)) return null;
      return 'text value is neither plain values nor one value of two or more components';
  }
}

/** Why p breaks the rules of card.h, or null. */
export function propProblem(p) {
  const kind = kindOf(p.name);
  const text = p.type === 'text';
  if (isDelimiter(p.name)) return 'BEGIN and END are not property names';
  if (p.type === 'unknown' && kind !== GENERIC) return 'value type "unknown" given to a property of known type';
  if (p.name === 'fn' && !text) return 'FN is not of type text';
  for (const q of p.params) {
    if ((q.name === 'type' || q.name === 'sort-as') && q.values.some((v) => v.includes(','))) {
      return "a TYPE or SORT-AS value holds a ',' (vCard text reads it as two values)";
    }
  }
  return text ? textProblem(p, kind) : rawProblem(p, kind);
}

// ---- vCard text: lines ----

const ENC_NONE = 0;
const ENC_QP = 1;
const ENC_B64 = 2;

const wordIs = (s, w) => s.length === w.length && s.toLowerCase() === w;

/* The ENCODING a content line names (the first 1024 bytes), and whether it has a CHARSET. */
function lineEncoding(s) {
  const end = Math.min(s.length, 1024);
  let i = 0;
  let quoted = false;
  const r = { enc: ENC_NONE, charset: false };
  while (i < end && s[i] !== ';' && s[i] !== ':') i++;
  while (i < end && s[i] === ';') {
    const start = ++i;
    while (i < end && (quoted || (s[i] !== ';' && s[i] !== ':'))) {
      if (s[i] === '"') quoted = !quoted;
      i++;
    }
    let v = s.slice(start, i);
    const eq = v.indexOf('=');
    if (eq >= 0) {
      if (wordIs(v.slice(0, eq), 'charset')) r.charset = true;
      if (!wordIs(v.slice(0, eq), 'encoding')) continue;
      v = v.slice(eq + 1);
    }
    if (wordIs(v, 'quoted-printable')) return { ...r, enc: ENC_QP };
    if (wordIs(v, 'b') || wordIs(v, 'base64')) return { ...r, enc: ENC_B64 };
  }
  return r;
}

const isBase64Text = (s) => /^[A-Za-z0-9+/= \t]*$/.test(s);
const isEnd = (s) => wordIs(s.replace(/[ \t]+$/, ''), 'end:vcard');

/* Splits the byte string into physical lines: CRLF, LF, CR CR LF, bare CR. */
function physicalLines(text) {
  const out = [];
  let i = 0;
  while (i < text.length) {
    let j = i;
    while (j < text.length && text[j] !== '\r' && text[j] !== '\n') j++;
    out.push(text.slice(i, j));
    if (text.startsWith('\r\r\n', j)) j += 3;
    else if (text.startsWith('\r\n', j)) j += 2;
    else if (j < text.length) j += 1;
    i = j;
  }
  return out;
}

/* Logical lines { text, line } of physical lines, unfolded as vcard_lines.c does. */
function logicalLines(phys) {
  const out = [];
  let i = 0;
  while (i < phys.length) {
    const l = { text: phys[i], line: i + 1 };
    i++;
    while (i < phys.length) {
      const s = phys[i];
      if (s[0] === ' ' || s[0] === '\t') {
        l.text += s.slice(1);
        i++;
        continue;
      }
      const { enc } = l.text.length > 0 ? lineEncoding(l.text) : { enc: ENC_NONE };
      if (enc === ENC_QP) l.text = l.text.replace(/[ \t]+$/, '');
      if (enc === ENC_QP && l.text.endsWith('=') && !isEnd(s)) {
        l.text = l.text.slice(0, -1) + s;
        i++;
        continue;
      }
      if (enc === ENC_B64 && l.text.includes(':') && continuesBase64(phys, i)) {
        l.text += s;
        i++;
        continue;
      }
      break;
    }
    out.push(l);
  }
  return out;
}

function continuesBase64(phys, i) {
  const s = phys[i];
  if (s.length === 0 || !isBase64Text(s)) return false;
  for (let k = i + 1; k < phys.length && (phys[k][0] === ' ' || phys[k][0] === '\t'); k++) {
    if (phys[k].includes(':')) return false;
  }
  return true;
}

const isBlank = (l) => /^[ \t]*$/.test(l.text);
function isLine(l, name, value) {
  const s = l.text;
  if (s.length < name.length + 1 || s.slice(0, name.length).toLowerCase() !== name || s[name.length] !== ':') return false;
  return s.slice(name.length + 1).replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase() === value;
}
const isName = (l, name) => l.text.length > name.length && l.text.slice(0, name.length).toLowerCase() === name && l.text[name.length] === ':';

// ---- vCard text: reading ----

const tokenLen = (s, from) => {
  let i = from;
  while (i < s.length && /[A-Za-z0-9-]/.test(s[i])) i++;
  return i - from;
};

function checkBytes(l, utf8Too) {
  const pname = l.text.slice(0, tokenLen(l.text, 0)).slice(0, 31);
  if (utf8Too && fromUtf8(l.text) === null) throw new CardError('utf8', null, l.line, pname);
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(l.text)) throw new CardError('syntax', 'control character in a line', l.line, pname);
}

function caretDecode(s) {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '^' && i + 1 < s.length) {
      const e = s[i + 1];
      if (e === '^' || e === "'" || e === 'n' || e === 'N') {
        out += e === '^' ? '^' : e === "'" ? '"' : '\n';
        i++;
        continue;
      }
    }
    out += c;
  }
  return out;
}

function addParamValue(p, name, s, list) {
  const parts = list ? s.split(',') : [s];
  for (const part of parts) pushParam(p, name, caretDecode(part));
}

function parseHeader(l) {
  const s = l.text;
  const colon = s.includes(':');
  let t = tokenLen(s, 0);
  const h = { group: '', name: '', after: 0, pname: '' };
  let nameStart = 0;
  if (t < s.length && s[t] === '.' && t > 0) {
    h.group = s.slice(0, t);
    nameStart = t + 1;
    t = t + 1 + tokenLen(s, t + 1);
  }
  h.name = s.slice(nameStart, t);
  h.pname = h.name.slice(0, 31);
  h.after = t;
  if (!colon) throw new CardError('no-colon', null, l.line, h.pname);
  if (h.name.length === 0) throw new CardError('syntax', 'content line has no property name', l.line);
  if (t >= s.length || (s[t] !== ';' && s[t] !== ':')) {
    throw new CardError('syntax', 'invalid character in a property or group name', l.line, h.pname);
  }
  return h;
}

function parseParams(c, l, h, p) {
  const s = l.text;
  const n = s.length;
  let i = h.after;
  while (i < n && s[i] === ';') {
    i++;
    const plen = tokenLen(s, i);
    const pname = s.slice(i, i + plen);
    i += plen;
    if (plen === 0 || plen >= 64) {
      throw new CardError('syntax', plen === 0 ? 'empty or invalid parameter name' : 'parameter name too long', l.line, h.pname);
    }
    if (i >= n) throw new CardError('no-colon', null, l.line, h.pname);
    if (s[i] === ';' || s[i] === ':') {
      if (c.version === 4) throw new CardError('syntax', "parameter without '=' and value", l.line, h.pname);
      const w = pname.toLowerCase();
      const as = ['quoted-printable', 'base64', '8bit', '7bit'].includes(w) ? 'encoding'
        : ['inline', 'url', 'content-id', 'cid'].includes(w) ? 'value' : 'type';
      addParamValue(p, as, pname, false);
      continue;
    }
    if (s[i] !== '=') throw new CardError('syntax', 'invalid character in a parameter name', l.line, h.pname);
    const isList = () => wordIs(pname, 'type') || wordIs(pname, 'sort-as');
    let list = isList();
    for (;;) {
      i++;
      let start = i;
      let end;
      if (i < n && s[i] === '"') {
        const q = s.indexOf('"', i + 1);
        if (q < 0) throw new CardError('syntax', 'unterminated quoted parameter value', l.line, h.pname);
        start = i + 1;
        end = q;
        i = q + 1;
        if (i < n && s[i] !== ',' && s[i] !== ';' && s[i] !== ':') {
          throw new CardError('syntax', 'text after a quoted parameter value', l.line, h.pname);
        }
      } else {
        list = false;
        while (i < n && s[i] !== ',' && s[i] !== ';' && s[i] !== ':') i++;
        end = i;
      }
      if (i >= n) throw new CardError('no-colon', null, l.line, h.pname);
      addParamValue(p, pname, s.slice(start, end), list);
      list = isList();
      if (s[i] !== ',') break;
    }
  }
  if (i >= n || s[i] !== ':') throw new CardError('no-colon', null, l.line, h.pname);
  return i + 1;
}

function hasUnescaped(s, sep) {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === sep) return true;
  }
  return false;
}

function textValue(c, s, l, h, p, kindIn) {
  let kind = kindIn;
  if (kind === GENERIC) kind = hasUnescaped(s, ';') ? STRUCT_LIST : c.version === 2 ? SINGLE : MULTI;
  const vsep = kind === MULTI ? ',' : null;
  const csep = kind === STRUCT || kind === STRUCT_LIST ? ';' : null;
  const ssep = kind === STRUCT_LIST && c.version !== 2 ? ',' : null;
  let v = [[]];
  p.values.push(v);
  let comp = v[0];
  let cur = '';
  for (let i = 0; i <= s.length; i++) {
    let ch = i < s.length ? s[i] : null;
    if (i === s.length || ch === vsep || ch === csep || ch === ssep) {
      comp.push(cur);
      cur = '';
      if (i === s.length) break;
      if (ch === vsep) {
        v = [[]];
        p.values.push(v);
        comp = v[0];
      } else if (ch === csep) {
        comp = [];
        v.push(comp);
      }
      continue;
    }
    if (ch === '\\') {
      const e = i + 1 < s.length ? s[i + 1] : '';
      if (e === '\\' || e === ',' || e === ';') {
        ch = e;
        i++;
      } else if (e === 'n' || e === 'N') {
        ch = '\n';
        i++;
      } else if (c.version === 4) {
        throw new CardError('escape', i + 1 < s.length ? 'invalid backslash escape (only \\\\ \\, \\; \\n are allowed)'
          : 'backslash at the end of a value', l.line, h.pname);
      }
    }
    cur += ch;
  }
}

function rawValue(c, sIn, p) {
  let s = sIn;
  const list = kindOf(p.name) === GENERIC && isListType(p.type);
  if (c.version !== 4 && p.type === 'uri') s = s.replace(/\\([:,;\\])/g, '$1');
  const pieces = list ? s.split(',') : [s];
  for (const piece of pieces) {
    p.values.push([[isDateType(p.type) ? toBasic(p.type, piece) : piece]]);
  }
}

function qpDecode(s) {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=') {
      if (i + 1 === s.length) break;
      const hex = s.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        out += String.fromCharCode(parseInt(hex, 16));
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

const isQp = (p) => {
  const q = p.params.find((x) => x.name === 'encoding');
  return !!q && q.values.some((v) => wordIs(v, 'quoted-printable'));
};

const decodedLine = (l, version) => {
  const e = lineEncoding(l.text);
  return version === 2 || e.enc === ENC_QP || e.charset;
};

// The character sets common/charset.c reads, by normalized name (lowercase,
// no '-', '_' or blank). Latin-1 and Windows-1252 are decoded here, as
// TextDecoder takes both for Windows-1252 (and Node for Latin-1); the others
// by TextDecoder, whose WHATWG tables match the C side's.
const W1252 = [0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039,
  0x152, 0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122,
  0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178];
const CHARSETS = [
  ['utf-8', 'utf8'], ['ascii', 'usascii ascii ansix3.41968 us'], ['latin1', 'iso88591 latin1 l1 iso885911987 cp819 ibm819'],
  ['iso-8859-2', 'iso88592 latin2 l2'], ['iso-8859-5', 'iso88595 cyrillic'], ['iso-8859-7', 'iso88597 greek'],
  ['iso-8859-9', 'iso88599 latin5 l5'], ['iso-8859-13', 'iso885913 latin7'], ['iso-8859-15', 'iso885915 latin9 l9'],
  ['windows-1250', 'windows1250 cp1250 xcp1250'], ['windows-1251', 'windows1251 cp1251 xcp1251'],
  ['windows-1252', 'windows1252 cp1252 xcp1252 ansi'], ['windows-1253', 'windows1253 cp1253'],
  ['windows-1254', 'windows1254 cp1254'], ['windows-1257', 'windows1257 cp1257'], ['koi8-r', 'koi8r'],
  ['koi8-u', 'koi8u'], ['macintosh', 'macintosh mac macroman xmacroman'],
  ['shift_jis', 'shiftjis sjis mskanji windows31j cp932 xsjis'], ['euc-jp', 'eucjp xeucjp'],
  ['iso-2022-jp', 'iso2022jp csiso2022jp'], ['gb18030', 'gb2312 gbk cp936 euccn xgbk gb18030'],
  ['big5', 'big5 big5hkscs cp950 xbig5'], ['euc-kr', 'euckr ksc56011987 ksc5601 cp949 uhc'],
];

function findCharset(name) {
  const norm = name.replace(/[-_ \t]/g, '').toLowerCase();
  const hit = CHARSETS.find(([, names]) => names.split(' ').includes(norm));
  return hit ? hit[0] : null;
}

/* Text of the byte string bs in charset cs; null when it is not text of that set. */
function decodeCharset(cs, bs) {
  if (cs === 'utf-8') return fromUtf8(bs);
  if (cs === 'ascii') return /^[\x00-\x7f]*$/.test(bs) ? bs : null;
  if (cs === 'latin1') return bs;
  if (cs === 'windows-1252') return bs.replace(/[\x80-\x9f]/g, (c) => String.fromCharCode(W1252[c.charCodeAt(0) - 0x80]));
  try {
    return new TextDecoder(cs, { fatal: true, ignoreBOM: true }).decode(bytesOf(bs));
  } catch {
    return null;
  }
}

/* The value decoded from QP and its CHARSET into a UTF-8 byte string; null when not decoded. */
function decodeValue(c, l, h, p, v) {
  if (!decodedLine(l, c.version)) return null;
  let cs = 'utf-8';
  if (paramIndex(p, 'charset') >= 0) {
    const name = param1(p, 'charset');
    cs = name === null ? null : findCharset(name);
    if (cs === null) {
      throw new CardError('charset', 'CHARSET names a character set that is not read (UTF-8, ISO-8859-x, Windows-125x, KOI8, Macintosh are)', l.line, h.pname);
    }
  }
  let s = isQp(p) ? qpDecode(v) : v;
  if (param1(p, 'charset') === null && c.version === 2 && fromUtf8(s) === null) cs = 'windows-1252';
  const text = decodeCharset(cs, s);
  if (text === null) throw new CardError(cs === 'utf-8' ? 'utf8' : 'charset', null, l.line, h.pname);
  s = utf8Bytes(text);
  const isText = p.type === 'text';
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\r' || ch === '\n') {
      if (ch === '\r' && s[i + 1] === '\n') i++;
      if (!isText && p.type !== 'unknown') throw new CardError('syntax', 'line break in a value that is not text', l.line, h.pname);
      out += isText ? '\n' : '\\n';
    } else if (/[\x00-\x08\x0b-\x1f\x7f]/.test(ch)) {
      throw new CardError('syntax', 'control character in a value', l.line, h.pname);
    } else {
      out += ch;
    }
  }
  return out;
}

function knownMediaType(prop, type) {
  const map = [['key', 'pgp', 'application/pgp-keys'], ['key', 'x509', 'application/pkix-cert'],
    ['photo', 'jpg', 'image/jpeg'], ['logo', 'jpg', 'image/jpeg'], ['photo', 'tiff', 'image/tiff'],
    ['photo', 'pict', 'image/x-pict'], ['sound', 'wave', 'audio/wav'], ['sound', 'pcm', 'audio/L16'],
    ['sound', 'aiff', 'audio/aiff']];
  const m = map.find(([p, t]) => p === prop && t === type.toLowerCase());
  return m ? m[2] : null;
}

const isMediaType = (s) => /^[A-Za-z0-9!#$&^_.+-]+(\/[A-Za-z0-9!#$&^_.+-]+)?$/.test(s);
const isMediaProp = (n) => ['photo', 'logo', 'sound', 'key'].includes(n);

function inlineBinary(p) {
  const enc = paramIndex(p, 'encoding');
  const prefix = p.name === 'photo' || p.name === 'logo' ? 'image/' : p.name === 'sound' ? 'audio/' : p.name === 'key' ? 'application/' : null;
  if (enc < 0 || prefix === null || p.type === 'text' || p.params[enc].values.length !== 1
    || !['b', 'base64'].includes(p.params[enc].values[0].toLowerCase()) || !isBase64Text(first(p))) return;
  const t = p.params.find((q) => q.name === 'type');
  let uri = 'data:';
  const known = t ? knownMediaType(p.name, t.values[0]) : null;
  if (known) uri += known;
  else if (t && isMediaType(t.values[0])) uri += (t.values[0].includes('/') ? '' : prefix) + t.values[0];
  else uri += 'application/octet-stream';
  uri += `;base64,${first(p).replace(/[ \t]/g, '')}`;
  p.type = 'uri';
  p.values = [[[uri]]];
  p.params.splice(enc, 1);
  dropParam(p, 'type');
}

function removedType(name, type) {
  if (type === 'internet') return true;
  const adr = ['intl', 'dom', 'postal', 'parcel'];
  const email = ['internet', 'x400', 'aol', 'applelink', 'attmail', 'cis', 'eworld', 'ibmmail', 'mcimail',
    'powershare', 'prodigy', 'tlx'];
  const list = name === 'adr' || name === 'label' ? adr : name === 'email' ? email : [];
  return list.includes(type);
}

const hasType = (p, type) => {
  const q = p.params.find((x) => x.name === 'type');
  return !!q && q.values.some((v) => v.toLowerCase() === type);
};
const isIrmcReading = (p) => p.name === 'sound' && (hasType(p, 'x-irmc-n') || paramIndex(p, 'x-irmc-n') >= 0);

function dropParamValue(p, qi, j) {
  p.params[qi].values.splice(j, 1);
  if (p.params[qi].values.length === 0) p.params.splice(qi, 1);
}

function mediaTypeParam(p) {
  const t = paramIndex(p, 'type');
  if (t < 0 || !isMediaProp(p.name) || p.type !== 'uri' || isIrmcReading(p)) return;
  let mt = '';
  const q = p.params[t];
  for (let j = 0; j < q.values.length;) {
    const v = q.values[j];
    if (v === 'work' || v === 'home') {
      j++;
      continue;
    }
    const known = knownMediaType(p.name, v);
    const prefix = p.name === 'sound' ? 'audio/' : p.name === 'key' ? 'application/' : 'image/';
    if (mt === '' && !first(p).startsWith('data:') && (known || (isMediaType(v) && utf8Length(v) < 64))) {
      mt = known || (v.includes('/') ? '' : prefix) + v;
    }
    const left = q.values.length;
    dropParamValue(p, t, j);
    if (left === 1) break;
  }
  if (mt !== '' && paramIndex(p, 'mediatype') < 0) pushParam(p, 'mediatype', mt);
}

const isUtcOffset = (v) => /^[+-][0-9]{2}([0-9]{2}|:[0-9]{2})?$/.test(v);

function upgradeProp(p) {
  dropParam(p, 'charset');
  dropParam(p, 'context');
  let i = paramIndex(p, 'encoding');
  if (i >= 0 && p.params[i].values.length === 1 && !['b', 'base64'].includes(p.params[i].values[0].toLowerCase())) {
    p.params.splice(i, 1);
  }
  i = paramIndex(p, 'type');
  let pref = false;
  if (i >= 0) {
    const q = p.params[i];
    for (let j = 0; j < q.values.length;) {
      q.values[j] = q.values[j].replace(/[A-Z]/g, (ch) => ch.toLowerCase());
      const isPref = q.values[j] === 'pref';
      pref = pref || isPref;
      if (isPref || removedType(p.name, q.values[j])) {
        const left = q.values.length;
        dropParamValue(p, i, j);
        if (left === 1) break;
        continue;
      }
      j++;
    }
  }
  if (pref && paramIndex(p, 'pref') < 0) pushParam(p, 'pref', '1');
  inlineBinary(p);
  if (p.type === 'binary') p.type = 'uri';
  mediaTypeParam(p);
  const want = p.name === 'n' ? 5 : p.name === 'adr' ? 7 : 0;
  if (want > 0 && p.type === 'text' && p.values.length === 1) {
    while (p.values[0].length < want) p.values[0].push(['']);
  }
  if (!oneString(p)) return;
  const v = first(p);
  if (p.name === 'geo' && v.slice(0, 4).toLowerCase() !== 'geo:' && v.includes(';')) {
    setFirst(p, `geo:${v.replace(';', ',')}`);
  } else if (p.name === 'tz' && p.type === 'text' && isUtcOffset(v)) {
    p.type = 'utc-offset';
    setFirst(p, toBasic('utc-offset', v));
  } else if (p.name === 'bday') {
    const k = paramIndex(p, 'x-apple-omit-year');
    if (k >= 0 && v.length === 8 && allDigits(v) && p.params[k].values[0].length === 4 && v.startsWith(p.params[k].values[0])) {
      setFirst(p, `--${v.slice(4)}`);
      p.params.splice(k, 1);
    }
  }
}

const DROPPED = new Set(['profile', 'name', 'mailer', 'class']);

function sameTypes(p, q) {
  const a = p.params.find((x) => x.name === 'type');
  const b = q.params.find((x) => x.name === 'type');
  const va = a ? a.values : [];
  const vb = b ? b.values : [];
  return va.length === vb.length && va.every((x) => vb.includes(x));
}

function foldLabel(card, i) {
  const label = card.props[i];
  const text = first(label);
  for (const adr of card.props) {
    if (adr.name !== 'adr' || adr.type !== 'text' || paramIndex(adr, 'label') >= 0 || !sameTypes(adr, label)) continue;
    pushParam(adr, 'label', text);
    card.props.splice(i, 1);
    return true;
  }
  pushParam(label, 'label', text);
  label.name = 'adr';
  label.values = [[[''], [''], [''], [''], [''], [''], ['']]];
  return false;
}

function foldSortString(card, i) {
  const sort = card.props[i];
  const text = first(sort);
  let t = card.props.findIndex((p) => p.name === 'n');
  if (t < 0) t = card.props.findIndex((p) => p.name === 'org');
  if (t < 0 || paramIndex(card.props[t], 'sort-as') >= 0 || text === '') {
    sort.name = 'x-sort-string';
    return false;
  }
  for (const part of text.split(',')) pushParam(card.props[t], 'sort-as', part.replace(/^[ \t]+|[ \t]+$/g, ''));
  card.props.splice(i, 1);
  return true;
}

function foldIrmcReading(card, i) {
  const sound = card.props[i];
  const t = card.props.findIndex((p) => p.name === 'n');
  if (t < 0 || paramIndex(card.props[t], 'sort-as') >= 0 || !oneString(sound)) return false;
  let v = first(sound);
  for (let k = 0; k < 2 && v !== ''; k++) {
    const m = v.match(/^[^;,]*/)[0];
    if (m.length > 0) pushParam(card.props[t], 'sort-as', m);
    v = v.slice(m.length);
    if (v[0] === ';' || v[0] === ',') v = v.slice(1);
  }
  card.props.splice(i, 1);
  return true;
}

function androidNickname(p) {
  const prefix = 'vnd.android.cursor.item/nickname;';
  const v = first(p);
  if (!v.startsWith(prefix)) return;
  let nick = '';
  for (let i = prefix.length; i < v.length && v[i] !== ';'; i++) {
    if (v[i] === '\\' && i + 1 < v.length) i++;
    nick += v[i];
  }
  if (nick === '') return;
  p.name = 'nickname';
  p.type = 'text';
  setFirst(p, nick);
}

function makeFn(card) {
  const parts = (p, order) => {
    const out = [];
    for (const k of order) {
      if (k >= p.values[0].length) continue;
      for (const s of p.values[0][k]) if (s !== '') out.push(s);
    }
    return out.join(' ');
  };
  let at = card.props.findIndex((p) => p.name === 'n');
  let name = '';
  if (at >= 0 && card.props[at].type === 'text') {
    const n = card.props[at];
    const lead = bytesOf(n.values[0][0][0])[0];
    const east = lead >= 0xe3 && lead <= 0xef;
    name = parts(n, east ? [3, 0, 1, 2, 4] : [3, 1, 2, 0, 4]);
  }
  if (name === '') {
    at = card.props.findIndex((p) => p.name === 'org');
    if (at >= 0 && card.props[at].type === 'text') name = parts(card.props[at], [0]);
  }
  if (name === '') return;
  const fn = newProp('fn', 'text');
  fn.values = [[[name]]];
  card.props.splice(at >= 0 ? at : 0, 0, fn);
}

function upgradeCard(card) {
  for (let i = 0; i < card.props.length;) {
    const p = card.props[i];
    let removed = false;
    const single = p.type === 'text' && oneString(p);
    if (single && p.name === 'label') removed = foldLabel(card, i);
    else if (single && p.name === 'sort-string') removed = foldSortString(card, i);
    else if (isIrmcReading(p)) removed = foldIrmcReading(card, i);
    else if (p.name === 'x-android-custom' && p.type === 'unknown' && oneString(p)) androidNickname(p);
    if (!removed) i++;
  }
  if (!card.props.some((p) => p.name === 'fn')) makeFn(card);
}

function convertAgent(c, card, p, l, h) {
  p.name = 'related';
  pushParam(p, 'type', 'agent');
  if (p.type !== 'text') return;
  const inline = l.agent !== undefined ? l.agent : first(p);
  if (inline.length === 0) {
    card.props.pop();
    return;
  }
  const lead = inline.replace(/^[ \t\r\n]+/, '');
  if (lead.length < 11 || lead.slice(0, 11).toLowerCase() !== 'begin:vcard') return;
  if (c.depth >= 2) throw new CardError('syntax', 'AGENT cards nested too deep', l.line, 'AGENT');
  let agent;
  try {
    agent = parseOne(inline, 0, c.depth + 1);
  } catch {
    throw new CardError('property', "the AGENT's vCard is not valid", l.line, 'AGENT');
  }
  setFirst(p, agent.props.find((q) => q.name === 'fn').values[0][0][0]);
}

function parseProp(c, card, l) {
  const h = parseHeader(l);
  if (wordIs(h.name, 'version')) return;
  if (isDelimiter(h.name)) throw new CardError('begin-end', 'BEGIN or END with a group or parameters inside a card', l.line, h.pname);
  if (card.props.length >= MAX_PROPS - 1) throw new CardError('limit', null, l.line, h.pname);
  const p = newProp(h.name.toLowerCase(), '', h.group);
  card.props.push(p);
  const off = parseParams(c, l, h, p);
  if (decodedLine(l, c.version)) {
    // The value's UTF-8 is checked once decoded; the rest of the line now.
    checkBytes({ text: l.text.slice(0, off), line: l.line }, true);
  }
  if (paramIndex(p, 'group') >= 0) throw new CardError('syntax', 'GROUP parameter (jCard reserves it for the property group)', l.line, h.pname);
  if (c.version !== 4 && DROPPED.has(p.name)) {
    card.props.pop();
    return;
  }
  const vi = paramIndex(p, 'value');
  if (vi >= 0 && (p.params[vi].values.length !== 1 || !isToken(p.params[vi].values[0]))) {
    throw new CardError('syntax', 'VALUE parameter is not one value type name', l.line, h.pname);
  }
  let type = vi >= 0 ? p.params[vi].values[0] : defaultType(p.name);
  let kind = kindOf(p.name);
  let cid = false;
  if (c.version !== 4) {
    if (vi >= 0 && type.toLowerCase() === 'url') type = 'uri';
    else if (vi >= 0 && ['content-id', 'cid'].includes(type.toLowerCase())) {
      type = 'uri';
      cid = true;
    } else if (vi >= 0 && type.toLowerCase() === 'inline') type = defaultType(p.name);
    if (vi < 0 && ['label', 'sort-string', 'agent'].includes(p.name)) {
      type = 'text';
      kind = SINGLE;
    }
  }
  p.type = type.toLowerCase();
  if (vi >= 0) p.params.splice(vi, 1);
  let value = l.text.slice(off);
  const decoded = decodeValue(c, l, h, p, value);
  if (decoded !== null) {
    value = decoded;
    const e = paramIndex(p, 'encoding');
    if (e >= 0 && isQp(p)) p.params.splice(e, 1);
    dropParam(p, 'charset');
  }
  if (cid) {
    let v = value;
    if (v.length >= 2 && v[0] === '<' && v[v.length - 1] === '>') v = v.slice(1, -1);
    value = `cid:${v}`;
  }
  if (p.type === 'text') textValue(c, value, l, h, p, kind);
  else rawValue(c, value, p);
  if (c.version !== 4) {
    if (p.name === 'agent') {
      const before = card.props.length;
      convertAgent(c, card, p, l, h);
      if (card.props.length < before) return;
    }
    upgradeProp(p);
  }
  const why = propProblem(p);
  if (why) throw new CardError('property', why, l.line, h.pname);
  if (p.name === 'photo' && c.maxPhoto > 0) {
    let total = 0;
    for (const v of p.values) for (const comp of v) for (const s of comp) total += s.length;
    if (total > c.maxPhoto) throw new CardError('photo-size', null, l.line, 'PHOTO');
  }
  if (p.name === 'fn' && first(p) === '') {
    if (c.version !== 4) {
      card.props.pop();
      return;
    }
    throw new CardError('no-fn', 'FN is empty', l.line, 'FN');
  }
}

function findVersion(lines, beginLine) {
  let version = 0;
  for (const l of lines) {
    if (!isName(l, 'version')) continue;
    const v = isLine(l, 'version', '4.0') ? 4 : isLine(l, 'version', '3.0') ? 3 : isLine(l, 'version', '2.1') ? 2 : -1;
    if (v < 0) throw new CardError('version', 'unsupported VERSION (2.1, 3.0 and 4.0 are read)', l.line, 'VERSION');
    if (version !== 0 && v !== version) throw new CardError('version', 'conflicting VERSION lines', l.line, 'VERSION');
    version = v;
  }
  if (version === 0) throw new CardError('version', 'card has no VERSION property', beginLine, 'VERSION');
  return version;
}

/* Strings of the card from UTF-8 byte strings to text. */
function toText(card) {
  const t = (s) => {
    const r = fromUtf8(s);
    if (r === null) throw new CardError('utf8');
    return r;
  };
  for (const p of card.props) {
    p.group = t(p.group);
    p.name = t(p.name);
    p.type = t(p.type);
    for (const q of p.params) q.values = q.values.map(t);
    p.values = p.values.map((v) => v.map((comp) => comp.map(t)));
  }
  return card;
}

/*
 * Reads the card starting at logical line index *at of lines. Returns the
 * card (byte strings) and moves at past its END:VCARD; null at the end.
 */
/* True when l is an AGENT (any group or parameters) with nothing after its ':'. */
function isEmptyAgent(l) {
  const t = tokenLen(l.text, 0);
  let name = l.text.slice(0, t);
  if (l.text[t] === '.') name = l.text.slice(t + 1, t + 1 + tokenLen(l.text, t + 1));
  if (!wordIs(name, 'agent')) return false;
  const colon = l.text.indexOf(':');
  return colon >= 0 && /^[ \t]*$/.test(l.text.slice(colon + 1));
}

/* The lines of a 2.1 AGENT's vCard from its BEGIN (l) to the matching END, CRLF-joined; null when the text ends first. */
function collectAgent(lines, cursor, first) {
  let depth = 1;
  let out = `${first.text}\r\n`;
  while (depth > 0) {
    if (cursor.i >= lines.length) return null;
    const l = lines[cursor.i++];
    if (isLine(l, 'begin', 'vcard')) depth++;
    else if (isLine(l, 'end', 'vcard')) depth--;
    out += `${l.text}\r\n`;
  }
  return out;
}

function parseNext(lines, cursor, c) {
  cursor.ended = false;
  let l;
  do {
    if (cursor.i >= lines.length) return null;
    l = lines[cursor.i++];
  } while (isBlank(l));
  checkBytes(l, true);
  if (!isLine(l, 'begin', 'vcard')) throw new CardError('begin-end', 'expected BEGIN:VCARD', l.line);
  const beginLine = l.line;
  const body = [];
  for (;;) {
    if (cursor.i >= lines.length) {
      cursor.ended = true;
      throw new CardError('truncated', null, lines.length ? lines[lines.length - 1].line : 0);
    }
    const before = cursor.i;
    l = lines[cursor.i++];
    if (isBlank(l)) continue;
    checkBytes(l, false);
    if (isName(l, 'begin')) {
      const last = body[body.length - 1];
      if (last && isEmptyAgent(last) && last.agent === undefined && isLine(l, 'begin', 'vcard')) {
        // vCard 2.1: the AGENT's own vCard follows it.
        last.agent = collectAgent(lines, cursor, l);
        if (last.agent === null) {
          cursor.ended = true;
          throw new CardError('truncated', null, lines[lines.length - 1].line, 'AGENT');
        }
        continue;
      }
      if (isLine(l, 'begin', 'vcard')) {
        cursor.i = before; // this card most likely lacks its END: the next one starts here
        cursor.ended = true;
      }
      throw new CardError('begin-end', 'BEGIN inside a card (nested cards are not read)', l.line, 'BEGIN');
    }
    if (isName(l, 'end')) {
      if (!isLine(l, 'end', 'vcard')) throw new CardError('begin-end', 'END does not match BEGIN:VCARD', l.line, 'END');
      break;
    }
    if (body.length > MAX_PROPS + 1) throw new CardError('limit', null, l.line, l.text.slice(0, tokenLen(l.text, 0)).slice(0, 31));
    body.push(l);
  }
  cursor.ended = true;
  c.version = findVersion(body, beginLine);
  for (const b of body) if (!decodedLine(b, c.version)) checkBytes(b, true);
  const card = { props: [] };
  for (const b of body) parseProp(c, card, b);
  if (c.version !== 4) upgradeCard(card);
  if (!card.props.some((p) => p.name === 'fn')) {
    throw new CardError('no-fn', c.version === 4 ? null : 'card has no FN, and no N or ORG to make one from', beginLine, 'FN');
  }
  return card;
}

function byteInput(text) {
  if (typeof text === 'string') return utf8Bytes(text);
  if (text instanceof ArrayBuffer) return toByteString(new Uint8Array(text));
  if (ArrayBuffer.isView(text)) return toByteString(new Uint8Array(text.buffer, text.byteOffset, text.byteLength));
  throw new CardError('invalid', 'a vCard is text or bytes');
}

function linesOf(bs) {
  const body = bs.startsWith('\xef\xbb\xbf') ? bs.slice(3) : bs;
  return logicalLines(physicalLines(body));
}

function parseOne(bs, maxPhoto, depth) {
  const lines = linesOf(bs);
  const cursor = { i: 0 };
  const card = parseNext(lines, cursor, { version: 4, maxPhoto, depth });
  if (!card) throw new CardError('empty');
  while (cursor.i < lines.length && isBlank(lines[cursor.i])) cursor.i++;
  if (cursor.i < lines.length) throw new CardError('extra', null, lines[cursor.i].line);
  return card;
}

/**
 * Reads the one card of a .vcf (text, or bytes: a file as the phone gives
 * it). maxPhoto bounds the PHOTO value (default PHOTO_MAX, 0: none).
 * Returns a card; throws CardError naming the line and property.
 */
export function parseVcard(text, { maxPhoto = PHOTO_MAX } = {}) {
  return toText(parseOne(byteInput(text), maxPhoto, 0));
}

/**
 * Reads every card of a .vcf: { cards: [card], numbers, errors: [CardError] },
 * the cards that could be read (numbers: the place of each in the file, 1 the
 * first) and why the others could not (each error has the line where its
 * card failed, and its number); reading goes on after a bad card.
 */
export function parseVcards(text, { maxPhoto = PHOTO_MAX } = {}) {
  const lines = linesOf(byteInput(text));
  const cursor = { i: 0, ended: false };
  const cards = [];
  const numbers = [];
  const errors = [];
  for (let number = 1; ; number++) {
    try {
      const card = parseNext(lines, cursor, { version: 4, maxPhoto, depth: 0 });
      if (!card) break;
      cards.push(toText(card));
      numbers.push(number);
    } catch (e) {
      if (!(e instanceof CardError)) throw e;
      e.number = number;
      errors.push(e);
      if (!cursor.ended) {
        // Past the next END:VCARD, or up to the next BEGIN:VCARD (a card of its own).
        while (cursor.i < lines.length) {
          const l = lines[cursor.i];
          if (isLine(l, 'begin', 'vcard')) break;
          cursor.i++;
          if (isEnd(l.text)) break;
        }
      }
    }
  }
  if (cards.length === 0 && errors.length === 0) errors.push(new CardError('empty'));
  return { cards, numbers, errors };
}

// ---- vCard text: writing ----

const upper = (s) => s.replace(/[a-z]/g, (c) => c.toUpperCase());

function putText(s, semicolon) {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') out += '\\\\';
    else if (c === ',') out += '\\,';
    else if (c === ';' && semicolon) out += '\\;';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += s[i + 1] === '\n' ? '' : '\\n';
    else out += c;
  }
  return out;
}

const putRaw = (s) => s.replace(/\r\n/g, '\n').replace(/[\r\n]/g, '\\n');

function putParamValue(s, version) {
  const quote = /[,;:]/.test(s);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\r' && s[i + 1] === '\n') continue;
    if (version === 3) out += c === '"' ? "'" : c === '\n' || c === '\r' ? ' ' : c;
    else if (c === '^') out += '^^';
    else if (c === '"') out += "^'";
    else if (c === '\n' || c === '\r') out += '^n';
    else out += c;
  }
  return quote ? `"${out}"` : out;
}

/* Folds a line at 75 octets, never inside a UTF-8 sequence. */
function putFolded(line) {
  const b = utf8.encode(line);
  let out = '';
  let pos = 0;
  let limit = 75;
  const dec = new TextDecoder();
  while (b.length - pos > limit) {
    let cut = limit;
    while (cut > 0 && (b[pos + cut] & 0xc0) === 0x80) cut--;
    if (cut === 0) cut = limit;
    out += `${dec.decode(b.subarray(pos, pos + cut))}\r\n `;
    pos += cut;
    limit = 74;
  }
  return `${out}${dec.decode(b.subarray(pos))}\r\n`;
}

const DEFAULT_TYPE30 = {
  photo: 'binary', logo: 'binary', sound: 'binary', key: 'binary', bday: 'date', rev: 'date-time',
  tz: 'utc-offset', geo: 'float', url: 'uri', source: 'uri', impp: 'uri', fburl: 'uri', caluri: 'uri',
  caladruri: 'uri', agent: 'vcard',
};

function needsValueParam(p, version) {
  if (p.type === 'unknown') return false;
  if (version === 4) return p.type !== defaultType(p.name);
  return p.type !== (DEFAULT_TYPE30[p.name] || 'text');
}

function putProp(p, version) {
  const text = p.type === 'text';
  const kind = kindOf(p.name);
  const semicolon = version === 3 || (kind !== SINGLE && kind !== MULTI);
  let line = p.group ? `${p.group}.` : '';
  line += upper(p.name);
  if (needsValueParam(p, version)) line += `;VALUE=${p.type}`;
  for (const q of p.params) {
    line += `;${upper(q.name)}=${q.values.map((v) => putParamValue(v, version)).join(',')}`;
  }
  line += ':';
  line += p.values.map((v) => v.map((comp) => comp.map((s) => (text ? putText(s, semicolon) : putRaw(s))).join(',')).join(';')).join(',');
  return line;
}

function mediaType30(mt) {
  if (mt.toLowerCase() === 'application/pgp-keys') return 'PGP';
  if (mt.toLowerCase() === 'application/pkix-cert') return 'X509';
  const slash = mt.indexOf('/');
  return upper(slash >= 0 ? mt.slice(slash + 1) : mt).slice(0, 31);
}

const TYPES30 = new Set(['binary', 'boolean', 'date', 'date-time', 'float', 'integer', 'text', 'time', 'uri',
  'utc-offset', 'vcard', 'phone-number', 'unknown']);
const NEW_IN_40 = new Set(['kind', 'gender', 'anniversary', 'lang', 'xml', 'related', 'member', 'agent']);

function date30(q) {
  const v = first(q);
  const type = q.type === 'utc-offset' ? 'utc-offset' : v[0] === 'T' ? 'time' : v.includes('T') ? 'date-time' : 'date';
  if (type === 'date' && /^--[0-9]{4}$/.test(v)) {
    setFirst(q, `1604-${v.slice(2, 4)}-${v.slice(4, 6)}`);
    pushParam(q, 'x-apple-omit-year', '1604');
    q.type = 'date';
    return;
  }
  if (v[0] === '-' && type !== 'utc-offset') {
    q.type = 'text';
    return;
  }
  setFirst(q, toExt(type, v));
  q.type = type;
}

function prop30(q) {
  const media = isMediaProp(q.name);
  const one = oneString(q);
  const v = one ? first(q) : '';
  if (paramIndex(q, 'pref') >= 0) {
    dropParam(q, 'pref');
    pushParam(q, 'type', 'pref');
  }
  for (const g of ['pid', 'altid', 'calscale', 'geo', 'tz', 'index', 'level', 'cc']) dropParam(q, g);
  const mt = paramIndex(q, 'mediatype');
  if (media && one && q.type === 'uri' && v.slice(0, 5).toLowerCase() === 'data:') {
    const comma = v.indexOf(',');
    const semi = comma >= 0 ? v.lastIndexOf(';', comma) : -1;
    const firstSemi = comma >= 0 ? v.slice(0, comma).indexOf(';') : -1;
    if (firstSemi >= 0 && semi === firstSemi && v.slice(semi, comma).toLowerCase() === ';base64') {
      const t30 = mediaType30(v.slice(5, semi));
      if (mt >= 0) q.params.splice(mt, 1);
      pushParam(q, 'encoding', 'b');
      if (t30 !== '') pushParam(q, 'type', t30);
      setFirst(q, v.slice(comma + 1));
      q.type = 'binary';
      return;
    }
  }
  if (mt >= 0) {
    const t30 = mediaType30(q.params[mt].values[0]);
    q.params.splice(mt, 1);
    if (media && t30 !== '') pushParam(q, 'type', t30);
  }
  if (!one) {
    if (!TYPES30.has(q.type)) q.type = 'text';
    return;
  }
  if (q.name === 'tel' && q.type === 'uri') {
    setFirst(q, v.slice(0, 4).toLowerCase() === 'tel:' ? v.slice(4) : v);
    q.type = 'text';
    return;
  }
  if (q.name === 'geo' && q.type === 'uri' && v.slice(0, 4).toLowerCase() === 'geo:') {
    const comma = v.indexOf(',', 4);
    if (comma >= 0) {
      const lon = v.slice(comma + 1).match(/^[^,;]*/)[0];
      const d = `${v.slice(4, comma)};${lon}`;
      if (utf8Length(d) + 1 < 128) {
        setFirst(q, d);
        q.type = 'float';
        return;
      }
    }
  }
  if (q.name === 'uid' && q.type === 'uri') {
    q.type = 'text';
    return;
  }
  if (isDateType(q.type)) {
    date30(q);
    return;
  }
  if (!TYPES30.has(q.type)) q.type = 'text';
}

const copyProp = (p, name) => ({
  group: p.group, name, type: p.type,
  params: p.params.map((q) => ({ name: q.name, values: [...q.values] })),
  values: p.values.map((v) => v.map((c) => [...c])),
});

function textProp(group, name, value) {
  const p = newProp(name, 'text', group);
  p.values = [[[value]]];
  return p;
}

function to30(card) {
  const out = { props: [] };
  for (const p of card.props) {
    if (p.name === 'clientpidmap') continue;
    const q = copyProp(p, (NEW_IN_40.has(p.name) ? 'x-' : '') + p.name);
    out.props.push(q);
    prop30(q);
    const label = paramIndex(q, 'label');
    const sort = paramIndex(q, 'sort-as');
    if (p.name === 'adr' && label >= 0) {
      const text = q.params[label].values[0];
      q.params.splice(label, 1);
      const l = textProp(q.group, 'label', text);
      const t = q.params.find((x) => x.name === 'type');
      if (t) for (const tv of t.values) pushParam(l, 'type', tv);
      out.props.push(l);
    } else if (p.name === 'n' && sort >= 0) {
      const s = q.params[sort].values.join(' ');
      q.params.splice(sort, 1);
      out.props.push(textProp('', 'sort-string', s));
    } else if (sort >= 0) {
      q.params.splice(sort, 1);
    }
  }
  const fn = cardFn(card);
  if (!out.props.some((p) => p.name === 'n') && fn !== null) {
    const n = textProp('', 'n', '');
    n.values = [[[''], [fn], [''], [''], ['']]];
    out.props.splice(1, 0, n);
  }
  return out;
}

/**
 * The vCard text of card: version 4 (the default) or 3, which phones'
 * address books read most reliably (what "Save to contacts" should give
 * them). CRLF line ends, lines folded at 75 octets.
 */
export function writeVcard(card, version = 4) {
  if (version !== 3 && version !== 4) throw new CardError('invalid', 'vCard 3.0 or 4.0 is written');
  const c = version === 3 ? to30(card) : card;
  let doc = `BEGIN:VCARD\r\nVERSION:${version}.0\r\n`;
  for (const p of c.props) doc += putFolded(putProp(p, version));
  return `${doc}END:VCARD\r\n`;
}

// ---- jCard ----

function numberText(d) {
  if (Number.isInteger(d) && Math.abs(d) < 9007199254740992) return d.toFixed(0);
  for (let prec = 15; prec <= 17; prec++) {
    const s = formatG(d, prec);
    if (Number(s) === d) return s;
  }
  return String(d);
}

/* C's %.{prec}g. */
function formatG(d, prec) {
  if (d === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(d)));
  if (exp < -4 || exp >= prec) {
    let [m, e] = d.toExponential(prec - 1).split('e');
    if (m.includes('.')) m = m.replace(/0+$/, '').replace(/\.$/, '');
    const en = Number(e);
    return `${m}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  let s = d.toFixed(Math.max(0, prec - 1 - exp));
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

function stringProblem(s, allowLf) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 10 || c === 13) {
      if (!allowLf) return 'line break in a parameter or a non-text value';
    } else if ((c < 0x20 && c !== 9) || c === 0x7f) {
      return 'control character in a jCard string';
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const pair = c < 0xdc00 && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
      if (!pair) return '';
      i++;
    }
  }
  return null;
}

const unifyNewlines = (s) => s.replace(/\r\n?/g, '\n');

function scalarText(v, type) {
  if (typeof v === 'string') return isDateType(type) ? toBasic(type, v) : v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return null;
    return numberText(v);
  }
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (v === null) return '';
  return null;
}

function jcardProp(card, jp) {
  if (!Array.isArray(jp) || jp.length < 4) throw new CardError('jcard', 'jCard property is not an array of name, parameters, type and values');
  const [jname, jparams, jtype] = jp;
  if (typeof jname !== 'string' || !isToken(jname)) {
    throw new CardError('jcard', 'jCard property name is not a vCard name', 0, typeof jname === 'string' ? jname.slice(0, 31) : '');
  }
  const name = jname;
  if (!jparams || typeof jparams !== 'object' || Array.isArray(jparams)) throw new CardError('jcard', 'jCard parameters are not an object', 0, name);
  if (typeof jtype !== 'string' || !isToken(jtype)) throw new CardError('jcard', 'jCard value type is not a name', 0, name);
  if (name.toLowerCase() === 'version') {
    if (jp[3] !== '4.0' || jp.length !== 4) throw new CardError('version', 'jCard version is not "4.0"', 0, 'VERSION');
    return true;
  }
  const p = newProp(name.toLowerCase(), jtype.toLowerCase());
  card.props.push(p);
  const text = p.type === 'text';
  for (const [pn, q] of Object.entries(jparams)) {
    if (!isToken(pn) || pn.length >= 64) throw new CardError('jcard', 'jCard parameter name is not a vCard name', 0, name);
    if (pn.toLowerCase() === 'group') {
      if (typeof q !== 'string' || !isToken(q)) throw new CardError('jcard', 'jCard group is not a vCard name', 0, name);
      p.group = q;
      continue;
    }
    if (pn.toLowerCase() === 'value') continue;
    if (Array.isArray(q) && q.length === 0) {
      pushParam(p, pn, '');
      continue;
    }
    for (const e of Array.isArray(q) ? q : [q]) {
      if (typeof e !== 'string') throw new CardError('jcard', 'jCard parameter value is not a string or a list of strings', 0, name);
      const why = stringProblem(e, true);
      if (why !== null) throw new CardError(why === '' ? 'utf8' : 'jcard', why || null, 0, name);
      pushParam(p, pn, unifyNewlines(e));
    }
  }
  for (let i = 3; i < jp.length; i++) {
    const jv = jp[i];
    const value = [];
    p.values.push(value);
    const comps = Array.isArray(jv) ? (jv.length ? jv : [null]) : [jv];
    for (const comp0 of comps) {
      const comp = [];
      value.push(comp);
      const subs = Array.isArray(comp0) ? comp0 : [comp0];
      if (comp0 === null && Array.isArray(jv) && jv.length === 0) {
        comp.push('');
        continue;
      }
      if (subs.length === 0) comp.push('');
      for (const s of subs) {
        const t = scalarText(s, p.type);
        if (t === null) throw new CardError('jcard', 'jCard value is nested deeper than components or is not a scalar', 0, name);
        const u = unifyNewlines(t);
        const why = stringProblem(u, text);
        if (why !== null) throw new CardError(why === '' ? 'utf8' : 'jcard', why || null, 0, name);
        comp.push(u);
      }
    }
  }
  const why = propProblem(p);
  if (why) throw new CardError('property', why, 0, name);
  return false;
}

/**
 * A card from a jCard value (the card of a "card" event): version "4.0"
 * and a non-empty fn required, the rules of card.h checked. Throws CardError.
 */
export function cardFromJcard(jcard) {
  if (!Array.isArray(jcard) || jcard.length !== 2 || jcard[0] !== 'vcard' || !Array.isArray(jcard[1])) {
    throw new CardError('jcard', 'jCard is not ["vcard", [properties]]');
  }
  const card = { props: [] };
  let version = false;
  let n = 0;
  for (const jp of jcard[1]) {
    if (++n > MAX_PROPS) throw new CardError('limit');
    version = jcardProp(card, jp) || version;
  }
  if (!version) throw new CardError('version', 'jCard has no version property', 0, 'VERSION');
  checkCard(card, 0);
  return card;
}

function jcardScalar(type, s) {
  if (s !== '' && (type === 'integer' || type === 'float')) {
    const d = Number(s);
    if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) && Number.isFinite(d) && !Object.is(d, -0) && numberText(d) === s) return d;
  } else if (type === 'boolean' && (s === 'TRUE' || s === 'FALSE')) {
    return s === 'TRUE';
  } else if (isDateType(type)) {
    const ext = toExt(type, s);
    return toBasic(type, ext) === s ? ext : s;
  }
  return s;
}

/** The jCard value of card, VERSION first, as cx_card_to_jcard makes it. */
export function cardToJcard(card) {
  const props = [['version', {}, 'text', '4.0']];
  for (const p of card.props) {
    const params = {};
    if (p.group) params.group = p.group;
    for (const q of p.params) {
      if (p.group && q.name === 'group') continue;
      params[q.name] = q.values.length === 1 ? q.values[0] : [...q.values];
    }
    const jp = [p.name, params, p.type];
    for (const v of p.values) {
      if (v.length === 1 && v[0].length === 1) jp.push(jcardScalar(p.type, v[0][0]));
      else jp.push(v.map((c) => (c.length === 1 ? c[0] : [...c])));
    }
    props.push(jp);
  }
  return ['vcard', props];
}

// ---- checking, reading and changing cards ----

/** Throws CardError unless card has a non-empty FN and its PHOTO is within maxPhoto (0: no limit). */
export function checkCard(card, maxPhoto = PHOTO_MAX) {
  let fn = false;
  for (const p of card.props) {
    if (p.name === 'fn') {
      if (!p.values.length || !p.values[0].length || !p.values[0][0].length || p.values[0][0][0] === '') {
        throw new CardError('no-fn', 'FN is empty', 0, 'FN');
      }
      fn = true;
    } else if (p.name === 'photo' && maxPhoto > 0) {
      let total = 0;
      for (const v of p.values) for (const c of v) for (const s of c) total += utf8Length(s);
      if (total > maxPhoto) throw new CardError('photo-size', null, 0, 'PHOTO');
    }
  }
  if (!fn) throw new CardError('no-fn', null, 0, 'FN');
}

/** The first FN, or null. */
export function cardFn(card) {
  const p = card.props.find((q) => q.name === 'fn');
  return p ? p.values[0][0][0] : null;
}

/** The properties called name (case-insensitive). */
export const cardFind = (card, name) => card.props.filter((p) => p.name === name.toLowerCase());

/** The first string of the index-th property called name, or null (cx_card_get). */
export function cardGet(card, name, index = 0) {
  const p = cardFind(card, name)[index];
  return p ? p.values[0][0][0] : null;
}

/** All non-empty strings of p joined with sep ("123 Main St, Any Town, CA"). */
export function propJoin(p, sep = ', ') {
  const out = [];
  for (const v of p.values) for (const c of v) for (const s of c) if (s !== '') out.push(s);
  return out.join(sep);
}

/** The TYPE values of p, lowercase ("work", "cell"). */
export const propTypes = (p) => (p.params.find((q) => q.name === 'type') || { values: [] }).values.map((v) => v.toLowerCase());

function fillValue(p, value) {
  const kind = kindOf(p.name);
  const text = p.type === 'text';
  const list = text ? kind === MULTI : kind === GENERIC && isListType(p.type);
  const csep = text && (kind === STRUCT || kind === STRUCT_LIST);
  p.values = (list ? value.split(',') : [value]).map((v) => (csep ? v.split(';') : [v])
    .map((c) => [isDateType(p.type) ? toBasic(p.type, c) : c]));
}

function setValueOk(value, text) {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && !(text && c === 10)) || c === 0x7f) return false;
  }
  return stringProblem(value, true) === null;
}

function setOrAdd(card, name, value, add) {
  if (typeof name !== 'string' || typeof value !== 'string' || !isToken(name) || wordIs(name, 'version') || isDelimiter(name)) {
    throw new CardError('invalid', 'not a property name');
  }
  const lname = name.toLowerCase();
  const old = add ? undefined : card.props.find((p) => p.name === lname);
  const type = old ? old.type : defaultType(lname);
  if (!setValueOk(value, type === 'text')) throw new CardError('invalid', 'the value holds a control character', 0, upper(lname));
  const fresh = old ? { ...old, values: [] } : newProp(lname, type);
  fillValue(fresh, value);
  if (propProblem(fresh)) throw new CardError('invalid', propProblem(fresh), 0, upper(lname));
  if (old) {
    old.values = fresh.values;
    return old;
  }
  if (card.props.length >= MAX_PROPS - 1) throw new CardError('limit');
  card.props.push(fresh);
  return fresh;
}

/**
 * Sets the first property called name to value (literal text: in N, ADR,
 * ORG a ';' separates components, in NICKNAME and CATEGORIES a ','
 * separates values), or appends one (cx_card_set). Returns the property;
 * throws CardError "invalid" or "limit".
 */
export const cardSet = (card, name, value) => setOrAdd(card, name, value, false);
/** Always appends a new property (a second EMAIL). */
export const cardAdd = (card, name, value) => setOrAdd(card, name, value, true);

/** A new card holding FN (and the properties of fields, { name: value }, added in order). */
export function newCard(fn, fields = {}) {
  const card = { props: [] };
  cardSet(card, 'fn', fn);
  for (const [k, v] of Object.entries(fields)) {
    for (const one of Array.isArray(v) ? v : [v]) cardAdd(card, k, one);
  }
  checkCard(card);
  return card;
}

/** Removes every property called name (FN cannot be removed). */
export function cardRemove(card, name) {
  const lname = name.toLowerCase();
  if (lname === 'fn') throw new CardError('invalid', 'a card keeps its FN');
  card.props = card.props.filter((p) => p.name !== lname);
}

/**
 * A copy of card keeping only the properties named in fields (an array or
 * a comma-separated list, any case). FN is always kept, and so is a property
 * in the same group as a kept one ("item1.X-ABLabel" with "item1.TEL").
 */
export function cardSelect(card, fields) {
  const listed = new Set((Array.isArray(fields) ? fields : String(fields).split(','))
    .map((f) => f.trim().toLowerCase()).filter(Boolean));
  // A group ties a property to its companions (a label, say): they go together.
  const groups = new Set(card.props.filter((p) => listed.has(p.name) && p.group).map((p) => p.group.toLowerCase()));
  return {
    props: card.props.filter((p) => p.name === 'fn' || listed.has(p.name) || (p.group && groups.has(p.group.toLowerCase())))
      .map((p) => copyProp(p, p.name)),
  };
}

/** A deep copy. */
export const cardCopy = (card) => ({ props: card.props.map((p) => copyProp(p, p.name)) });

/** True when both cards have the same properties in the same order. */
export const cardEqual = (a, b) => JSON.stringify(a.props) === JSON.stringify(b.props);
