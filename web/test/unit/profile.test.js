// The page's cards and contacts without a browser: what a profile sends
// (src/ui/profile.js) and how a received card is filed (src/ui/contacts.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  cardToSend, fieldFromText, fieldText, profileFromCard, profileProblem, sharedSummary,
} from '../../src/ui/profile.js';
import { cleanCard, contactId } from '../../src/ui/contacts.js';
import { jcardProblem } from '../../src/core/jcard.js';
import { parseVcard, cardToJcard } from '../../src/core/card.js';

const names = (card) => card[1].map((p) => p[0]);

const APPLE = [
  'BEGIN:VCARD', 'VERSION:3.0', 'N:Appleseed;Johnny;;;', 'FN:Johnny Appleseed', 'ORG:Apple;',
  'item1.TEL:+1 555 0100', 'item1.X-ABLabel:Studio', 'EMAIL;TYPE=INTERNET:johnny@example.com',
  'NOTE:private', 'UID:abc-123', 'END:VCARD', '',
].join('\r\n');

test('an imported card sends only its ticked lines, FN and UID always, a group with its line', () => {
  const p = profileFromCard(cardToJcard(parseVcard(APPLE)), 'Work');
  for (const f of p.fields) f.share = !['note', 'email', 'fn', 'uid'].includes(f.prop[0]);
  const sent = cardToSend(p);
  assert.equal(jcardProblem(sent), null);
  assert.deepEqual(sent[1][0], ['version', {}, 'text', '4.0']);
  const n = names(sent);
  assert.ok(n.includes('fn') && n.includes('uid'), 'FN and UID go even unticked');
  assert.ok(!n.includes('note') && !n.includes('email'), 'unticked lines stay');
  assert.ok(n.includes('tel') && n.includes('x-ablabel'), 'the label goes with its grouped phone');
  assert.equal(n.filter((x) => x === 'version').length, 1);
  assert.match(sharedSummary(p), /^Name, /);
});

test('a label goes only with a shared line of its group', () => {
  const p = profileFromCard(cardToJcard(parseVcard(APPLE)), 'Work');
  for (const f of p.fields) f.share = f.prop[0] !== 'tel' && f.prop[0] !== 'x-ablabel';
  assert.ok(!names(cardToSend(p)).includes('x-ablabel'));
});

test('a card made in the form: N from the name, a phone as a tel: URI, empty lines left out', () => {
  const p = profileFromCard(['vcard', [['fn', {}, 'text', 'Ada King Lovelace']]], 'Mine');
  p.fields.push({ prop: fieldFromText(null, 'tel', '+44 20 7946 0001'), share: true });
  p.fields.push({ prop: fieldFromText(null, 'email', ''), share: true });
  p.fields.push({ prop: fieldFromText(null, 'adr', '12 St James\'s Square\nLondon\nSW1Y 4JH\nUnited Kingdom'), share: true });
  const sent = cardToSend(p);
  assert.equal(jcardProblem(sent), null);
  assert.deepEqual(sent[1].find((x) => x[0] === 'n'), ['n', {}, 'text', ['Lovelace', 'Ada King', '', '', '']]);
  assert.deepEqual(sent[1].find((x) => x[0] === 'tel'), ['tel', {}, 'uri', 'tel:+44-20-7946-0001']);
  assert.equal(fieldText(sent[1].find((x) => x[0] === 'tel')), '+44 20 7946 0001');
  assert.ok(!names(sent).includes('email'));
  const adr = sent[1].find((x) => x[0] === 'adr');
  assert.deepEqual(adr[3], ['', '', '12 St James\'s Square', 'London', '', 'SW1Y 4JH', 'United Kingdom']);
});

test('a profile without a name or with a bad address is refused with a sentence', () => {
  const p = profileFromCard(['vcard', [['fn', {}, 'text', '']]], 'Work');
  assert.match(profileProblem(p), /full name/);
  p.fields[0].prop = fieldFromText(p.fields[0].prop, 'fn', 'Ada');
  assert.equal(profileProblem(p), '');
  p.fields.push({ prop: fieldFromText(null, 'email', 'not an address'), share: true });
  assert.match(profileProblem(p), /email address/);
  p.fields.pop();
  p.label = ' ';
  assert.match(profileProblem(p), /name/);
});

test('a received card is filed as the CLI files it, without X-CARDEX-* from the peer', async () => {
  const card = ['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'text', 'Grace Hopper'],
    ['x-cardex-verified', {}, 'text', 'true']]];
  const clean = cleanCard(card);
  assert.ok(!names(clean).includes('x-cardex-verified'));
  const cli = (s) => createHash('sha256').update(s).digest('hex').slice(0, 12);
  assert.equal(await contactId(clean, 'grace'), cli('peer\ngrace\nGrace Hopper'));
  clean[1].push(['uid', {}, 'text', 'urn:uuid:1']);
  assert.equal(await contactId(clean, 'anyone'), cli('uid\nurn:uuid:1'));
});
