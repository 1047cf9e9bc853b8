// Reads a .vcf file with ical.js, an independent vCard 3.0/4.0 parser (it
// turns vCard text into jCard), and prints one line per card:
// "VERSION|FN|emails|tels" (values joined with ','), for cardex's
// integration tests. Exit 1 with the reason on stderr when ical.js refuses
// the file or a card lacks VERSION or FN.
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';

const text = readFileSync(process.argv[2], 'utf8');
let parsed;
try {
  parsed = ICAL.parse(text);
} catch (e) {
  console.error(`ical.js refused the file: ${e.message}`);
  process.exit(1);
}
// One card parses to one jCard, several to an array of them.
const cards = typeof parsed[0] === 'string' ? [parsed] : parsed;
for (const jcard of cards) {
  const card = new ICAL.Component(jcard);
  if (card.name !== 'vcard') {
    console.error(`not a vCard: ${card.name}`);
    process.exit(1);
  }
  const version = card.getFirstPropertyValue('version');
  const fn = card.getFirstPropertyValue('fn');
  if (!version || !fn) {
    console.error('a card without VERSION or FN');
    process.exit(1);
  }
  const all = (name) => card.getAllProperties(name).map((p) => String(p.getFirstValue())).join(',');
  console.log(`${version}|${fn}|${all('email')}|${all('tel')}`);
}
