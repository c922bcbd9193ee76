#!/usr/bin/env node
// Runs Doyensec's Electronegativity over the Electron side of the app (src-main by default) and fails on any HIGH
// finding, on any MEDIUM finding nobody has reviewed (REVIEWED below, each with its reason), and on any file the
// scanner could not parse (a file it cannot read is a file it did not check).
//
// The scanner lives in tools/electronegativity with its own lock file: 1.10.3 requires `commander` without declaring
// it and breaks on the app's commander 14. It is installed there on first use (`npm ci`, registry only).
//
// Offline: the two checks that fetch Electron's release list (AvailableSecurityFixesGlobalCheck,
// ElectronVersionJSONCheck) are skipped and the Electron version is given from package.json instead.
//
//   node scripts/electronegativity.mjs [<folder or file to scan>]     exit 0 clean, 1 findings, 2 could not run
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const toolDir = join(root, 'tools', 'electronegativity');
const cli = join(toolDir, 'node_modules', '@doyensec', 'electronegativity', 'dist', 'index.js');
const input = resolve(process.argv[2] ?? join(root, 'src-main'));

/** MEDIUM findings read and accepted: check id + file (relative to the input) → why it is fine. */
const REVIEWED = new Map([
  [
    'PRELOAD_JS_CHECK main/windows.ts',
    'the preload is ours, runs with contextIsolation + sandbox, and exposes only the typed, validated contract',
  ],
]);

function die(msg) {
  console.error(`electronegativity: ${msg}`);
  process.exit(2);
}

if (!existsSync(cli)) {
  console.log('electronegativity: installing the scanner into tools/electronegativity (npm ci, once)');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--prefix', toolDir], { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(cli)) die('could not install @doyensec/electronegativity (npm ci failed)');
}
if (!existsSync(input)) die(`nothing to scan at ${input}`);

const electronVersion = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies?.electron;
if (!/^\d+\.\d+\.\d+$/.test(electronVersion ?? '')) die('package.json does not pin an exact electron version');

const work = mkdtempSync(join(tmpdir(), 'electronegativity-'));
const csv = join(work, 'findings.csv');
try {
  const r = spawnSync(
    process.execPath,
    [
      cli,
      '--input',
      input,
      '--relative',
      '--electron-version',
      electronVersion,
      '--exclude-checks',
      'AvailableSecurityFixesGlobalCheck,ElectronVersionJSONCheck',
      '--verbose',
      'false',
      '--output',
      csv,
    ],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, NO_COLOR: '1' } },
  );
  const said = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  if (r.status !== 0) die(`the scanner failed (exit ${r.status}):\n${said}`);
  const parseErrors = said.split('\n').filter((l) => /Error parsing/.test(l));
  if (parseErrors.length > 0) {
    console.error(`electronegativity: files it could not parse (not checked):\n${parseErrors.join('\n')}`);
    process.exit(1);
  }
  if (!existsSync(csv)) die('the scanner wrote no findings file');

  const rows = readFileSync(csv, 'utf8').trim().split('\n').slice(1).filter(Boolean).map(parseCsvLine);
  const findings = rows.map(([id, severity, confidence, file, location, , description]) => ({
    id,
    severity,
    confidence,
    file,
    location,
    description,
  }));
  const failing = [];
  for (const f of findings) {
    const reviewed = REVIEWED.get(`${f.id} ${f.file}`);
    const line = `${f.severity} ${f.id} ${f.file}:${f.location} (${f.confidence}) ${f.description}`;
    if (f.severity === 'HIGH' || f.severity === 'CRITICAL' || (f.severity === 'MEDIUM' && !reviewed)) {
      failing.push(line);
    } else {
      console.log(`  ok   ${line}${reviewed ? ` — reviewed: ${reviewed}` : ''}`);
    }
  }
  console.log(`electronegativity ${findings.length} finding(s) in ${input}, ${failing.length} failing`);
  for (const l of failing) console.error(`  FAIL ${l}`);
  process.exit(failing.length > 0 ? 1 : 0);
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** One CSV line as the scanner writes it: fields quoted with "…" or bare, separated by ", " or ",". */
function parseCsvLine(line) {
  const out = [];
  let i = 0;
  while (i <= line.length) {
    while (line[i] === ' ') i++;
    if (line[i] === '"') {
      let j = i + 1;
      let s = '';
      while (j < line.length) {
        if (line[j] === '"' && line[j + 1] === '"') {
          s += '"';
          j += 2;
        } else if (line[j] === '"') break;
        else s += line[j++];
      }
      out.push(s);
      i = j + 1;
      while (i < line.length && line[i] !== ',') i++;
      i++;
    } else {
      let j = line.indexOf(',', i);
      if (j === -1) j = line.length;
      out.push(line.slice(i, j).trim());
      i = j + 1;
    }
  }
  return out;
}
