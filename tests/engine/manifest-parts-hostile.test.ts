import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * A split backup's manifest.json lists its parts; each is held to its sha256 in manifest.json and SHA256SUMS.
 * A manifest listing one part again and again (every copy matches its checksum, SHA256SUMS rewritten to match)
 * passed verify ("all files match"), and every reader read that part as many times as listed: before reading,
 * one `dd` per listed part to drop the page cache, so 2,000 listings of a 100 KB part kept verify busy for more
 * than a minute here, and a 64 MiB manifest holds ~500,000 (hours). Parts must be the writer's own sequence.
 */
let work: string;
let set: string;

beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-parts-'));
  const src = path.join(work, 'src');
  await fsp.mkdir(path.join(src, 'Configuration'), { recursive: true });
  await fsp.mkdir(path.join(src, 'Storage'), { recursive: true });
  await fsp.writeFile(path.join(src, 'Configuration', 'app.json'), '{}');
  await fsp.writeFile(path.join(src, 'Storage', 'data.bin'), randomBytes(2_500_000));
  execFileSync('tar', ['-C', src, '-czf', path.join(work, 'hand.tar.gz'), 'Configuration', 'Storage']);
  const stick = path.join(work, 'stick');
  await fsp.mkdir(stick);
  const r = await runCli(['adopt', path.join(work, 'hand.tar.gz'), '--to', stick, '--split-size', '1M'], {
    env: { EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_STATE_DIR: path.join(work, 'state') },
  });
  expect(r.code, r.stderr).toBe(0);
  const dev = path.join(stick, 'EdgeRecovery', 'hand-made');
  set = path.join(dev, (await fsp.readdir(dev)).find((n) => n.startsWith('Backup_'))!);
}, 120_000);
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

/** A copy of the set whose manifest lists `parts` (names of the real parts), SHA256SUMS rewritten to match. */
async function withParts(name: string, pick: (names: string[]) => string[]): Promise<string> {
  const dir = path.join(work, name);
  await fsp.cp(set, dir, { recursive: true });
  const m = JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8')) as {
    archive: { parts: { name: string; size: number; sha256: string }[]; gzipMembers?: number[] };
  };
  const byName = new Map(m.archive.parts.map((p) => [p.name, p]));
  m.archive.parts = pick([...byName.keys()]).map((n) => byName.get(n)!);
  delete m.archive.gzipMembers;
  const text = JSON.stringify(m);
  await fsp.writeFile(path.join(dir, 'manifest.json'), text);
  const sums = [...byName.values()].map((p) => `${p.sha256}  ${p.name}\n`).join('');
  await fsp.writeFile(
    path.join(dir, 'SHA256SUMS'),
    `${sums}${createHash('sha256').update(text).digest('hex')}  manifest.json\n`,
  );
  execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: dir });
  return dir;
}

describe("manifest.json's list of parts", () => {
  it('the adopted set is split into three parts and verifies', async () => {
    const names = (await fsp.readdir(set)).filter((n) => n.startsWith('data.')).sort();
    expect(names).toEqual(['data.tar.gz.001', 'data.tar.gz.002', 'data.tar.gz.003']);
    expect((await runCli(['verify', set])).code).toBe(0);
  });

  it('a part listed more than once is refused (exit 3), not read again', async () => {
    const dir = await withParts('repeated', (n) => [...n, ...n, ...n]);
    const r = await runCli(['verify', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/parts in order, each once/);
  });
});
