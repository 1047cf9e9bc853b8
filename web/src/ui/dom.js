// Small DOM helpers shared by the views: no framework, plain elements.
import { groupKey } from '../core/proto.js';

export const $ = (id) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`page element #${id} is missing`);
  return node;
};

// el('p', {class: 'x', text: 'hi'}, child...) builds an element; attributes
// whose value is null or false are left out, `text` sets textContent.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') node.textContent = v;
    else if (k === 'class') node.className = v;
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// A message in a status paragraph; an empty text hides it. tone: '', 'warn', 'ok'.
export function say(node, text, tone = '') {
  node.textContent = text || '';
  if (tone) node.dataset.tone = tone;
  else delete node.dataset.tone;
  if (node.classList.contains('error') || node.classList.contains('notice')) node.hidden = !text;
}

// Fills a .digits element with the digits grouped as the CLI groups them
// ("483 920", "123 4567"); screen readers get the digits
// one by one ("4 8 3, 9 2 0"), which is how a key is read.
export function showDigits(node, digits) {
  clear(node);
  const groups = groupKey(digits).split(' ');
  node.append(el('span', { class: 'visually-hidden', text: groups.map((g) => g.split('').join(' ')).join(', ') }));
  for (const g of groups) node.append(el('span', { class: 'group', 'aria-hidden': 'true', text: g }));
}

// "1:05" from seconds.
export function mmss(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function when(ms) {
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}
