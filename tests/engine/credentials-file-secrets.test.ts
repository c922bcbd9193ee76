import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';

/**
 * A technician's hand-written --credentials-file with a typo: the secret must not come back in the error.
 * Node's JSON.parse quotes the text around the fault ("Unexpected token 'h', ..."assword": hunter2-SE"... is not
 * valid JSON"), so passing its message on printed part of the password on the terminal and in --json's error event.
 */
const SECRET = 'hunter2-Very-Secret-Passw0rd';
const TYPOS: Record<string, string> = {
  'an unquoted value': `{"ToAdh": {"Password": ${SECRET}}}`,
  'a single-quoted value': `{"ToAdh": {"Password": '${SECRET}'}}`,
  'a missing comma after the value': `{\n  "ToAdh": {"Password": "${SECRET}"}\n  "ToPiWebApi": {"Password": "${SECRET}"}\n}`,
  'a backslash escape in the value': `{"ToAdh": {"Password": "${SECRET}\\q${SECRET}"}}`,
};

describe('edge-recovery with a malformed --credentials-file', () => {
  let work: string;

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'credentials-file-'));
  });

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  for (const [name, text] of Object.entries(TYPOS)) {
    it(`refuses ${name} (exit 2, names the file) without showing any part of the secret`, async () => {
      const file = path.join(work, `${name.replace(/\W+/g, '-')}.json`);
      await fsp.writeFile(file, text, { mode: 0o600 });
      for (const extra of [[], ['--json']]) {
        const r = await runCli([
          'credentials',
          '--credentials-file',
          file,
          '--state-dir',
          path.join(work, 'state'),
          ...extra,
        ]);
        expect(r.code, r.stderr).toBe(2);
        const out = r.stdout + r.stderr;
        // Not even a piece of it: V8 quotes ten characters or so around the fault.
        for (let i = 0; i + 6 <= SECRET.length; i++) expect(out).not.toContain(SECRET.slice(i, i + 6));
        expect(out).toContain(file);
        expect(out).toMatch(/not valid JSON/);
        if (extra.length > 0) expect(jsonEvents(r.stdout).some((e) => e.type === 'error')).toBe(true);
      }
    });
  }
});
