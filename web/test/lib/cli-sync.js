// The cardex CLI for commands that do not connect (card import, export):
// run to completion, no shell, in a private home.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function cliPath() {
  if (!process.env.CARDEX_CLI) throw new Error('CARDEX_CLI is not set: run these tests through ctest (ctest -R web_core)');
  return process.env.CARDEX_CLI;
}

export const dataDir = () => process.env.CARDEX_TEST_DATA || join(dirname(fileURLToPath(import.meta.url)), '../../../tests/data');

export function privateHome() {
  const dir = mkdtempSync(join(tmpdir(), 'cardex-web-unit-'));
  return { dir, rm: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the CLI: { code, stdout, stderr }. */
export function runCli(args, home, input) {
  const r = spawnSync(cliPath(), args, {
    env: { PATH: process.env.PATH, HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_CONFIG_HOME: join(home, 'config'), NO_COLOR: '1' },
    input: input === undefined ? '' : input,
    timeout: 30000,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A corpus file (tests/data/vcard) without its leading '#' comment lines, as bytes. */
export function corpus(name) {
  const lines = readFileSync(join(dataDir(), 'vcard', name), 'latin1').split('\n');
  let i = 0;
  while (i < lines.length && lines[i].startsWith('#')) i++;
  return Buffer.from(lines.slice(i).join('\n'), 'latin1');
}
