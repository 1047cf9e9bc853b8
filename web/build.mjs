// Bundles the page into one directory that any static server can serve,
// Mosquitto's http_dir included: it sends no Content-Type, so the page is
// classic scripts only (no modules, no service worker) and plain files.
//
//   index.html            copied as it is
//   cardex.js, .css       src/ui/main.js and everything it imports (the
//                         protocol core, MQTT.js, the QR encoder), one IIFE
//   jsqr.js               the QR decoder, a second classic script the page
//                         loads only when the browser has no BarcodeDetector
//   public/*              copied as they are (icons, manifest)
//
// Usage: node build.mjs [--outdir DIR] [--dev]
// Prints the gzipped size of each file and fails when what the page loads
// at start is over the budget (BUDGET_GZ); jsqr.js is counted apart.
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { pageOptions, BUDGET_GZ } from './build-options.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let outdir = join(here, 'www');
let dev = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--outdir' && i + 1 < args.length) outdir = resolve(args[++i]);
  else if (args[i] === '--dev') dev = true;
  else {
    console.error(`build.mjs: unknown argument ${args[i]}\nusage: node build.mjs [--outdir DIR] [--dev]`);
    process.exit(2);
  }
}

const page = join(here, 'src/ui/main.js');
const html = join(here, 'index.html');
for (const f of [page, html]) {
  if (!existsSync(f)) {
    console.error(`build.mjs: ${f} is missing: the page has nothing to bundle`);
    process.exit(1);
  }
}

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const common = pageOptions({ dev });
await esbuild.build({
  ...common,
  entryPoints: { cardex: page },
  outdir,
  loader: { '.svg': 'text' },
});
// jsQR needs none of the Node shims MQTT.js does.
await esbuild.build({
  ...common,
  inject: [],
  plugins: [],
  entryPoints: { jsqr: join(here, 'src/lazy/jsqr.js') },
  outdir,
});

cpSync(html, join(outdir, 'index.html'));
const pub = join(here, 'public');
if (existsSync(pub)) cpSync(pub, outdir, { recursive: true });

const LAZY = new Set(['jsqr.js']);
let atStart = 0;
let lazy = 0;
const rows = [];
for (const name of readdirSync(outdir, { recursive: true }).sort()) {
  const file = join(outdir, name);
  let body;
  try {
    body = readFileSync(file);
  } catch {
    continue; // a directory
  }
  const gz = gzipSync(body, { level: 9 }).length;
  if (LAZY.has(name)) lazy += gz;
  else atStart += gz;
  rows.push(`  ${name.padEnd(24)} ${String(body.length).padStart(8)} B  ${String(gz).padStart(7)} B gzipped`);
}
console.log(`web: ${outdir}\n${rows.join('\n')}`);
const kib = (n) => (n / 1024).toFixed(1);
console.log(`web: loaded at start ${kib(atStart)} KiB gzipped (budget ${kib(BUDGET_GZ)} KiB); ` +
  `jsqr.js ${kib(lazy)} KiB, loaded only for camera scanning without BarcodeDetector`);
if (atStart > BUDGET_GZ) {
  console.error(`web: over budget by ${kib(atStart - BUDGET_GZ)} KiB`);
  process.exit(1);
}
