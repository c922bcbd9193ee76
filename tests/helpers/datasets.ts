import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { promises as fsp, readFileSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export async function tempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `erw-${prefix}-`));
}

export const isRoot = process.getuid?.() === 0;

export const LONG_DIR = 'd'.repeat(120);
export const UNICODE_NAME = `ünïcødé-名前-${'n'.repeat(110)}.txt`;

/**
 * A small tree with everything the archive must keep: modes (incl. setgid dir, 0600, 0755 exec),
 * fixed mtimes, a relative symlink (also a dangling one), empty folders, long and non-ASCII names,
 * and (as root) a file owned by nobody:nogroup.
 */
export async function makeRichTree(root: string): Promise<void> {
  await fsp.mkdir(path.join(root, 'conf', 'empty'), { recursive: true });
  await fsp.mkdir(path.join(root, 'data', LONG_DIR), { recursive: true });
  await fsp.writeFile(path.join(root, 'conf', 'app.json'), '{"port": 5590}\n');
  await fsp.writeFile(path.join(root, 'conf', 'secret.key'), randomBytes(64));
  await fsp.writeFile(path.join(root, 'data', 'big.bin'), randomBytes(3 * 1024 * 1024 + 17));
  await fsp.writeFile(path.join(root, 'data', 'zeros.bin'), Buffer.alloc(200_000));
  await fsp.writeFile(path.join(root, 'data', 'empty.txt'), '');
  await fsp.writeFile(path.join(root, 'data', LONG_DIR, UNICODE_NAME), 'long and non-ASCII\n');
  await fsp.writeFile(path.join(root, 'run.sh'), '#!/bin/sh\necho hi\n');
  await fsp.symlink('conf/app.json', path.join(root, 'current.json'));
  await fsp.symlink('does-not-exist', path.join(root, 'dangling'));
  await fsp.chmod(path.join(root, 'conf', 'secret.key'), 0o600);
  await fsp.chmod(path.join(root, 'run.sh'), 0o755);
  await fsp.chmod(path.join(root, 'data'), 0o2775);
  if (isRoot) await fsp.chown(path.join(root, 'conf', 'app.json'), uidOf('nobody'), gidOf('nogroup'));
  // Fixed, distinct mtimes (children first: writing into a folder changes its mtime).
  const stamp = async (rel: string, t: number): Promise<void> => {
    await fsp.lutimes(path.join(root, rel), t, t);
  };
  await stamp('current.json', 1_600_000_100);
  await stamp('conf/app.json', 1_600_000_001);
  await stamp('conf/secret.key', 1_600_000_002);
  await stamp('data/big.bin', 1_600_000_003);
  await stamp(`data/${LONG_DIR}/${UNICODE_NAME}`, 1_600_000_004);
  await stamp(`data/${LONG_DIR}`, 1_600_000_005);
  await stamp('conf/empty', 1_600_000_006);
  await stamp('conf', 1_600_000_007);
  await stamp('data', 1_600_000_008);
}

export function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

export function gidOf(group: string): number {
  return Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
}

export interface SnapEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  mtime: number;
  size?: number;
  sha256?: string;
  target?: string;
}

/** Everything the archive promises to keep, per relative path (owners excluded: restore does not chown). */
export function snapshotTree(root: string): Record<string, SnapEntry> {
  const out: Record<string, SnapEntry> = {};
  const walk = (abs: string, rel: string): void => {
    const st = lstatSync(abs);
    const base = { mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) };
    if (st.isDirectory()) {
      out[rel] = { type: 'dir', ...base };
      for (const n of readdirSync(abs)) walk(path.join(abs, n), rel === '' ? n : `${rel}/${n}`);
    } else if (st.isSymbolicLink()) {
      out[rel] = { type: 'symlink', mtime: base.mtime, mode: 0, target: readlinkSync(abs) };
    } else if (st.isFile()) {
      out[rel] = {
        type: 'file',
        ...base,
        size: st.size,
        sha256: createHash('sha256').update(readFileSync(abs)).digest('hex'),
      };
    } else out[rel] = { type: 'other', ...base };
  };
  walk(root, '');
  return out;
}

export function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Bench data of mixed compressibility, like an appliance's store: each block is either random,
 * or text-like (repeated words), or zeros, in roughly 45/45/10 proportions (~55 % compressible).
 */
export function mixedBlock(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  const words = Buffer.from('temperature pressure flow valve 12.5 13.75 OK ALARM stream timestamp ');
  let off = 0;
  let i = seed;
  while (off < size) {
    const n = Math.min(64 * 1024, size - off);
    const kind = (i * 2654435761) % 20;
    if (kind < 9) randomBytes(n).copy(b, off);
    else if (kind < 18) for (let j = 0; j < n; j++) b[off + j] = words[(j + i) % words.length]!;
    else b.fill(0, off, off + n);
    off += n;
    i++;
  }
  return b;
}

/** `count` files of `size` bytes under `dir`, 100 per sub-folder. */
export async function makeFiles(dir: string, count: number, size: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const sub = path.join(dir, `d${String(Math.floor(i / 100)).padStart(4, '0')}`);
    if (i % 100 === 0) await fsp.mkdir(sub, { recursive: true });
    await fsp.writeFile(path.join(sub, `f${String(i).padStart(6, '0')}.dat`), mixedBlock(size, i * 7));
  }
}

/**
 * A profile (JSON) whose only folder is `folder`, owned by policy by nobody:nogroup, and whose service is a real
 * process (`sleep`) found by its pid file: what the bench and the CLI tests stop and start.
 */
export function processProfile(id: string, folder: string, pidFile: string): string {
  return JSON.stringify(
    {
      schemaVersion: 1,
      id,
      productName: id,
      platform: 'linux',
      service: {
        manager: 'process',
        name: id,
        command: ['/bin/sleep', '1000000'],
        pidFile,
        stopTimeoutSeconds: 10,
        startTimeoutSeconds: 10,
      },
      items: [{ id: 'data', path: folder }],
      ownership: { user: 'nobody', group: 'nogroup' },
    },
    null,
    2,
  );
}
