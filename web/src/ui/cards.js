// "My cards": the list of profiles, the editor (one row per line of the
// card, each with a "share" tick) and the .vcf import.
import { $, el, clear, say } from './dom.js';
import * as store from './store.js';
import {
  EDITABLE, ALWAYS, fieldName, fieldText, fieldFromText, profileFromCard, emptyProfile,
  profileProblem, sharedSummary,
} from './profile.js';
import { cardName } from './cardview.js';

export function createCards(app) {
  let editing = null; // the profile in the editor (a copy)
  let isNew = false;

  async function list() {
    app.profiles = null;
    const all = await store.getAll('profiles');
    all.sort((a, b) => a.label.localeCompare(b.label));
    return all;
  }

  async function showList(message = '') {
    const ul = clear($('cards-list'));
    let all = [];
    try {
      all = await list();
    } catch (e) {
      say($('cards-status'), `Your cards could not be read: ${e.message}`, 'warn');
      return;
    }
    if (!all.length) ul.append(el('li', { class: 'lead', text: 'No card yet. Make one, or import the .vcf your phone\'s contacts app exports.' }));
    for (const p of all) {
      const fn = p.fields.find((f) => f.prop[0] === 'fn');
      ul.append(el('li', {}, el('button', {
        type: 'button', class: 'item', onclick: () => edit(p, false),
      }, el('span', { class: 'title', text: p.label }),
      el('span', { class: 'sub', text: `${fn ? fieldText(fn.prop) : ''} · shares ${sharedSummary(p) || 'nothing yet'}` }))));
    }
    say($('cards-status'), message, message ? 'ok' : '');
  }

  function fieldRow(f, i) {
    const name = f.prop[0];
    const spec = EDITABLE[name];
    const id = `edit-f${i}`;
    const row = el('div', { class: 'field' });
    row.append(el('label', { class: 'name', for: spec ? id : null, id: `${id}-name`, text: fieldName(f.prop) }));
    const always = ALWAYS.has(name);
    const shareBox = el('input', {
      type: 'checkbox', id: `${id}-share`, checked: f.share || always, disabled: always,
      'aria-label': `Share ${fieldName(f.prop)}${spec ? '' : `: ${fieldText(f.prop).slice(0, 40)}`}`,
      onchange: (ev) => { f.share = ev.target.checked; },
    });
    row.append(el('label', { class: 'share', for: `${id}-share` }, shareBox, always ? 'always sent' : 'share'));
    if (spec) {
      const input = spec.input === 'textarea'
        ? el('textarea', { id, class: 'value', autocomplete: spec.autocomplete || null, rows: name === 'adr' ? 4 : 3 })
        : el('input', { id, class: 'value', type: spec.input, autocomplete: spec.autocomplete || null,
          inputmode: spec.input === 'tel' ? 'tel' : null, autocapitalize: spec.input === 'email' || spec.input === 'url' ? 'none' : null });
      input.value = fieldText(f.prop);
      if (spec.hint) input.setAttribute('placeholder', spec.hint);
      input.addEventListener('input', () => { f.prop = fieldFromText(f.prop, name, input.value); });
      row.append(input);
    } else {
      const t = name === 'photo' ? 'a picture' : fieldText(f.prop);
      row.append(el('p', { class: 'fixed', text: t.length > 120 ? `${t.slice(0, 120)}…` : t }));
    }
    if (name !== 'fn') {
      row.append(el('button', {
        type: 'button', class: 'quiet remove', text: 'Remove',
        'aria-label': `Remove ${fieldName(f.prop)}`,
        onclick: () => { editing.fields.splice(i, 1); renderFields(); $('edit-add').focus(); },
      }));
    }
    return row;
  }

  function renderFields() {
    const box = clear($('edit-fields'));
    editing.fields.forEach((f, i) => box.append(fieldRow(f, i)));
  }

  function edit(p, fresh) {
    editing = JSON.parse(JSON.stringify(p));
    isNew = fresh;
    $('edit-title').textContent = fresh ? 'New card' : `Edit “${p.label}”`;
    $('edit-label').value = editing.label;
    $('edit-delete').hidden = fresh;
    say($('edit-error'), '');
    renderFields();
    app.show('edit', 'cards');
  }

  async function save(ev) {
    ev.preventDefault();
    editing.label = $('edit-label').value.trim();
    const problem = profileProblem(editing);
    if (problem) {
      say($('edit-error'), problem);
      $('edit-error').focus?.();
      return;
    }
    editing.updated = Date.now();
    app.profiles = null;
    try {
      await store.put('profiles', editing);
    } catch (e) {
      say($('edit-error'), `The card could not be saved: ${e.message}`);
      return;
    }
    if (isNew && !store.chosenProfile()) store.chooseProfile(editing.id);
    const label = editing.label;
    editing = null;
    app.show('cards');
    await showList(`Saved “${label}”.`);
  }

  async function del() {
    if (!editing || isNew) return;
    if (!window.confirm(`Delete the card “${editing.label}” from this phone?`)) return;
    app.profiles = null;
    await store.remove('profiles', editing.id);
    if (store.chosenProfile() === editing.id) store.chooseProfile(null);
    const label = editing.label;
    editing = null;
    app.show('cards');
    await showList(`Deleted “${label}”.`);
  }

  async function importFile(file) {
    const status = $('cards-status');
    if (!file) return;
    if (file.size > 2 * 1024 * 1024) {
      say(status, 'That file is over 2 MB: it is not a contact card.', 'warn');
      return;
    }
    let cards;
    try {
      cards = app.core.parseVcards(await file.text());
    } catch (e) {
      say(status, `This file could not be read as a vCard: ${e.message}`, 'warn');
      return;
    }
    if (!cards.length) {
      say(status, 'No card found in this file.', 'warn');
      return;
    }
    let n = 0;
    app.profiles = null;
    for (const c of cards) {
      const p = profileFromCard(c, cards.length > 1 ? cardName(c) : file.name.replace(/\.vcf$/i, '') || cardName(c));
      await store.put('profiles', p);
      if (!store.chosenProfile()) store.chooseProfile(p.id);
      n++;
    }
    await showList(n === 1 ? `Imported “${cardName(cards[0])}”. Check which lines to share.` : `Imported ${n} cards.`);
  }

  $('cards-new').addEventListener('click', () => edit(emptyProfile(''), true));
  $('edit-form').addEventListener('submit', save);
  $('edit-cancel').addEventListener('click', () => { editing = null; app.show('cards'); showList(); });
  $('edit-delete').addEventListener('click', del);
  $('edit-add-btn').addEventListener('click', () => {
    const name = $('edit-add').value;
    editing.fields.push({ prop: fieldFromText(null, name, ''), share: true });
    renderFields();
    const inputs = $('edit-fields').querySelectorAll('.value');
    if (inputs.length) inputs[inputs.length - 1].focus();
  });
  $('cards-import').addEventListener('change', async (ev) => {
    const f = ev.target.files && ev.target.files[0];
    ev.target.value = '';
    await importFile(f);
  });

  return { showList, list, edit, newCard: () => edit(emptyProfile(''), true) };
}
