// Structural check of a jCard (RFC 7095), the one the plugin applies to
// every card it relays (common/jcard.c): ["vcard", [property, ...]], each
// property [name, {params}, type, value, ...], a version "4.0" and a
// non-empty fn, at most MAX_PROPS properties, values nested at most
// MAX_DEPTH deep. A terminal checks cards it sends and cards it receives.

export const MAX_PROPS = 512;
export const MAX_DEPTH = 8;

const nonEmpty = (v) => typeof v === 'string' && v !== '';

function valueOk(v, depth) {
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (!Array.isArray(v) || depth === 0) return false;
  return v.every((e) => valueOk(e, depth - 1));
}

function paramsOk(p) {
  if (!p || typeof p !== 'object' || Array.isArray(p)) return false;
  return Object.entries(p).every(([k, v]) => k !== '' &&
    (typeof v === 'string' || (Array.isArray(v) && v.every((e) => typeof e === 'string'))));
}

/** null when card is a valid jCard value, else the reason (never quoting the card). */
export function jcardProblem(card) {
  if (!Array.isArray(card) || card.length !== 2) return 'card is not a two-element jCard array';
  if (card[0] !== 'vcard') return 'card does not start with "vcard"';
  if (!Array.isArray(card[1])) return 'card properties are not an array';
  if (card[1].length > MAX_PROPS) return 'card has too many properties';
  let version = false;
  let fn = false;
  for (const prop of card[1]) {
    if (!Array.isArray(prop)) return 'card property is not an array';
    if (prop.length < 4) return 'card property has fewer than 4 elements';
    const [name, params, type] = prop;
    if (!nonEmpty(name)) return 'card property name is not a non-empty string';
    if (!paramsOk(params)) return 'card property parameters are not an object of strings';
    if (!nonEmpty(type)) return 'card property type is not a non-empty string';
    for (let i = 3; i < prop.length; i++) {
      if (!valueOk(prop[i], MAX_DEPTH)) return 'card property value has a bad type or is nested too deeply';
    }
    const lname = name.toLowerCase();
    if (lname === 'version') {
      if (prop[3] !== '4.0') return 'card version is not "4.0"';
      version = true;
    } else if (lname === 'fn') {
      if (!nonEmpty(prop[3])) return 'card fn is not a non-empty string';
      fn = true;
    }
  }
  if (!version) return 'card has no version property';
  if (!fn) return 'card has no fn property';
  return null;
}

/**
 * The compact JSON text of a jCard given as a value or as JSON text; throws
 * a TypeError naming the problem when it is not a valid jCard.
 */
export function compactJcard(card) {
  let value = card;
  if (typeof card === 'string') {
    try {
      value = JSON.parse(card);
    } catch {
      throw new TypeError('the card is not JSON');
    }
  }
  const why = jcardProblem(value);
  if (why) throw new TypeError(why);
  return JSON.stringify(value);
}
