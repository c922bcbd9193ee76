import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uidForUser } from '../../src-main/engine/util/system-users.js';
import { listenPrivateSocket } from '../../src-main/server/unix-socket.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { rejection } from '../helpers/rejection.js';

/**
 * `serve --socket <path>` makes the socket's folder 0700 and checks it is ours, but not the folders above it. In
 * a folder another account owns (`/srv/shared/er/serve.sock`, /srv/shared that account's), that account renames
 * our folder away and puts its own folder and socket in its place: the technician's `ssh -L …:<path>` then leads
 * the browser, with its one-time sign-in link, to that account's server. Shown here with a real unprivileged
 * user doing the swap; the socket must be refused in such a place before it listens.
 */
const USER = 'er-attack2';
const why = restoreTestsBlocked();
let work: string;

beforeAll(async () => {
  if (why) return;
  ensureTestOwner(USER);
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-socket-folder-'));
  await fsp.chmod(work, 0o755);
});
afterAll(async () => {
  if (why) return;
  await fsp.rm(work, { recursive: true, force: true });
});

describe.skipIf(why !== undefined)(`serve's socket folder${why ? ` (${why})` : ''}`, () => {
  it('another account that owns a folder above it can swap the socket folder for its own (the attack)', async () => {
    const shared = path.join(work, 'shared-demo');
    await fsp.mkdir(shared);
    await fsp.chown(shared, uidForUser(USER)!, 0);
    await fsp.mkdir(path.join(shared, 'er'), { mode: 0o700 }); // root's, 0700, as serve makes it
    execFileSync('runuser', ['-u', USER, '--', 'mv', path.join(shared, 'er'), path.join(shared, 'moved-away')]);
    execFileSync('runuser', ['-u', USER, '--', 'mkdir', path.join(shared, 'er')]);
    expect((await fsp.stat(path.join(shared, 'er'))).uid).toBe(uidForUser(USER));
  });

  it('refuses a socket below a folder another account owns, before listening', async () => {
    const shared = path.join(work, 'shared');
    await fsp.mkdir(shared);
    await fsp.chown(shared, uidForUser(USER)!, 0);
    const server = net.createServer();
    try {
      const e = await rejection(listenPrivateSocket(server, path.join(shared, 'er', 'serve.sock')));
      expect(e.code).toBe('BAD_INPUT');
      expect(e.message).toMatch(/can be changed by uid/);
      expect(server.listening).toBe(false);
    } finally {
      server.close();
    }
  });

  it('still listens in a root-only folder below a sticky one (/tmp)', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-sock-'));
    const server = net.createServer();
    try {
      const unlink = await listenPrivateSocket(server, path.join(dir, 'er', 's.sock'));
      expect(server.listening).toBe(true);
      await new Promise<void>((r) => server.close(() => r()));
      await unlink();
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
