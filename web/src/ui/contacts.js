// Contacts: the cards received, kept on the phone (IndexedDB) with when and
// from which terminal; one contact shown as a card; "Save to phone
// contacts" and "Export all" as .vcf.
import { $, el, clear, say, when } from './dom.js';
import * as store from './store.js';
import { renderCard, cardName, first } from './cardview.js';
import { saveVcf } from './savevcf.js';

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

// The entry's ID, as the cardex CLI derives it (docs/cli.md, contacts):
// 48 bits of SHA-256 over "uid\n" + UID, else "peer\n" + peer + "\n" + FN,
// so that the same person received again updates the entry.
export async function contactId(card, peer) {
  const uid = first(card, 'uid');
  const basis = uid && uid[3] ? `uid\n${uid[3]}` : `peer\n${peer}\n${cardName(card)}`;
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(basis));
  return hex(d).slice(0, 12);
}

// A received card without properties a peer must not set (X-CARDEX-*).
export function cleanCard(card) {
  return ['vcard', card[1].filter((p) => Array.isArray(p) && !/^x-cardex-/i.test(p[0]))];
}

export function createContacts(app) {
  let current = null;

  // Stores a received card; returns {id, updated}. Rejects when storage fails
  // (the caller keeps the card on screen so that nothing is lost).
  async function keep(card, { peer, exchange, verified, sealed }) {
    const clean = cleanCard(card);
    const id = await contactId(clean, peer);
    const old = await store.get('contacts', id);
    await store.put('contacts', { id, card: clean, peer, exchange, verified: !!verified, sealed: !!sealed, received: Date.now() });
    return { id, updated: !!old };
  }

  async function all() {
    const list = await store.getAll('contacts');
    list.sort((a, b) => b.received - a.received);
    return list;
  }

  async function showList(message = '') {
    const ul = clear($('contacts-list'));
    let list = [];
    try {
      list = await all();
    } catch (e) {
      say($('contacts-status'), `Your contacts could not be read: ${e.message}`, 'warn');
      return;
    }
    $('contacts-empty').hidden = list.length > 0;
    $('contacts-export').disabled = list.length === 0;
    for (const c of list) {
      ul.append(el('li', {}, el('button', {
        type: 'button', class: 'item', onclick: () => open(c),
      }, el('span', { class: 'title', text: cardName(c.card) }),
      el('span', { class: 'sub', text: `from ${c.peer} · ${when(c.received)}${c.verified ? ' · ✓ code compared' : ''}` }))));
    }
    say($('contacts-status'), message, message ? 'ok' : '');
  }

  function open(c) {
    current = c;
    $('contact-title').textContent = cardName(c.card);
    clear($('contact-card')).append(renderCard(c.card, c));
    app.show('contact', 'contacts');
  }

  async function saveToPhone(card, statusNode) {
    let how;
    try {
      how = await saveVcf(app.core.toVcard3(card), cardName(card));
    } catch (e) {
      say(statusNode, `The card could not be handed to the phone: ${e.message}`, 'warn');
      return;
    }
    const msg = {
      shared: 'Handed to the phone: pick Contacts to add it.',
      opened: 'Opened the card: tap “Create New Contact”.',
      downloaded: 'Downloaded the .vcf file: open it to add the contact.',
      cancelled: '',
    }[how];
    say(statusNode, msg, msg ? 'ok' : '');
  }

  async function exportAll() {
    const list = await all();
    if (!list.length) return;
    const text = list.map((c) => app.core.toVcard3(c.card)).join('');
    await saveVcf(text, `cardex contacts ${new Date().toISOString().slice(0, 10)}`);
    say($('contacts-status'), `Exported ${list.length} contact${list.length === 1 ? '' : 's'} as one .vcf file.`, 'ok');
  }

  $('contact-back').addEventListener('click', () => { app.show('contacts'); showList(); });
  $('contact-save').addEventListener('click', () => current && saveToPhone(current.card, $('contacts-status')));
  $('contact-delete').addEventListener('click', async () => {
    if (!current || !window.confirm(`Delete ${cardName(current.card)} from this page's contacts?`)) return;
    await store.remove('contacts', current.id);
    const name = cardName(current.card);
    current = null;
    app.show('contacts');
    showList(`Deleted ${name}.`);
  });
  $('contacts-export').addEventListener('click', () => exportAll().catch((e) => say($('contacts-status'), `Export failed: ${e.message}`, 'warn')));

  return { keep, showList, saveToPhone, all };
}
