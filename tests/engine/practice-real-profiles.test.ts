import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src-main/server/serve.js';
import { WS_PROTOCOL, WS_SECRET_PREFIX } from '../../src-main/server/ws-protocol.js';
import type { PracticeView, ProfileSummary } from '../../src-main/shared/contract.js';

/**
 * A practice session's jobs keep their journal in the sandbox and take its lock, not the machine's: through the
 * real loopback server, the page of a practice session can start jobs only on the practice appliances.
 */
interface Reply {
  ok: boolean;
  value?: unknown;
  error?: { code: string; message: string; hint?: string };
}

type Call = (name: string, input: unknown) => Promise<Reply>;

/** Signs in with the one-time link and opens the page's WebSocket, as the browser bridge does. */
async function connect(s: RunningServer): Promise<Call> {
  const port = Number(new URL(s.url).port);
  const origin = `http://127.0.0.1:${port}`;
  const r = await fetch(`${origin}/?token=${s.token}`, { redirect: 'manual' });
  expect(r.status).toBe(303);
  const secret = /#s=([A-Za-z0-9_-]+)$/.exec(r.headers.get('location') ?? '')![1]!;
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0]!;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, [WS_PROTOCOL, WS_SECRET_PREFIX + secret], {
    headers: { Origin: origin, Cookie: cookie },
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  sockets.push(ws);
  let next = 0;
  return (name, input) =>
    new Promise((resolve) => {
      const id = ++next;
      const onMsg = (data: WebSocket.RawData): void => {
        const m = JSON.parse(data.toString()) as { id?: number; envelope: Reply };
        if (m.id !== id) return;
        ws.off('message', onMsg);
        resolve(m.envelope);
      };
      ws.on('message', onMsg);
      ws.send(JSON.stringify({ id, name, input }));
    });
}

const sockets: WebSocket[] = [];
let base: string;

beforeAll(async () => {
  base = await fsp.mkdtemp(path.join(os.tmpdir(), 'practice-real-'));
  const renderer = path.join(base, 'renderer');
  await fsp.mkdir(renderer);
  await fsp.writeFile(path.join(renderer, 'index.html'), '<!doctype html><title>t</title>');
  await fsp.writeFile(path.join(renderer, 'bridge.js'), '');
});

afterAll(async () => {
  for (const ws of sockets) ws.close();
  await fsp.rm(base, { recursive: true, force: true });
});

/**
 * Starts the loopback server with its own folder (`base/<name>`: state and practice sandbox), signs in, sets up
 * practice from the page, runs `use`, and stops the server.
 */
async function withPractice(
  name: string,
  opts: { practice?: boolean },
  use: (call: Call, p: PracticeView, dir: string) => Promise<void>,
): Promise<void> {
  const dir = path.join(base, name);
  const s = await startServer({
    ...opts,
    rendererDir: path.join(base, 'renderer'),
    stateDir: path.join(dir, 'state'),
    practiceBaseDir: dir,
  });
  try {
    const call = await connect(s);
    await use(call, (await call('practice.setup', {})).value as PracticeView, dir);
  } finally {
    await s.close();
  }
}

/** Starts a backup and a restore of the real Edge Data Store profile aimed at the practice machines' folders. */
async function startRealJobs(call: Call, p: PracticeView): Promise<Reply[]> {
  return [
    await call('backup.start', { profileRef: 'eds-linux', root: p.old.root, to: p.stickDir }),
    await call('restore.start', { profileRef: 'eds-linux', root: p.replacement.root, backup: p.stickDir }),
    await call('backup.start', { profileRef: 'eds-linux', to: p.stickDir }),
  ];
}

describe('practice through the loopback server', () => {
  it('serve --practice lists only practice products and refuses a job on a real product, changing nothing', () =>
    withPractice('served', { practice: true }, async (call, p, dir) => {
      const listed = (await call('profiles.list', {})).value as ProfileSummary[];
      expect(listed.map((x) => x.ref)).toEqual(expect.arrayContaining([p.old.profileRef, p.replacement.profileRef]));
      expect(listed.map((x) => x.ref)).not.toContain('eds-linux');
      // The others offered are the products with a stand-in, for practice.product only.
      for (const x of listed) expect(x.practice === true || x.ref.startsWith(dir)).toBe(true);

      for (const r of await startRealJobs(call, p)) {
        expect(r).toMatchObject({ ok: false, error: { code: 'PROFILE_UNTRUSTED' } });
        expect(r.error!.message).toMatch(/Practice works only on the practice appliances; "eds-linux" is not one/);
        expect(r.error!.hint).toMatch(/without --practice/);
      }
      // A practice-only server cannot be talked out of practice by the page.
      expect((await call('practice.leave', {})).value).toMatchObject({ left: false });
      expect((await call('job.running', {})).value).toEqual([]);
      const sandbox = path.dirname(p.stickDir);
      expect(await fsp.readdir(p.stickDir)).toEqual([]);
      expect(existsSync(path.join(sandbox, 'state', 'backup-journal.json'))).toBe(false);
      expect(existsSync(path.join(sandbox, 'state', 'job.lock'))).toBe(false);
      // The practice appliance itself still backs up.
      const ok = await call('profiles.plan', { profileRef: p.old.profileRef, root: p.old.root });
      expect(ok.ok).toBe(true);
    }));

  it('a wizard that started practice runs real products again only after leaving it', () =>
    withPractice('on-demand', {}, async (call, p, dir) => {
      for (const r of await startRealJobs(call, p)) {
        expect(r).toMatchObject({ ok: false, error: { code: 'PROFILE_UNTRUSTED' } });
        expect(r.error!.hint).toMatch(/Leave practice/);
      }
      expect((await call('practice.leave', {})).value).toMatchObject({ left: true });
      expect(existsSync(path.dirname(p.stickDir))).toBe(false);
      expect(((await call('profiles.list', {})).value as ProfileSummary[]).map((x) => x.ref)).toContain('eds-linux');
      // and a real profile is taken again: its plan, and a job that now meets only the page-path rule (a folder
      // that is no stick, folders outside the profile's own: refused as paths, not as a practice-only profile).
      expect((await call('profiles.plan', { profileRef: 'eds-linux' })).ok).toBe(true);
      for (const input of [
        { profileRef: 'eds-linux', to: dir },
        { profileRef: 'eds-linux', root: path.join(dir, 'none'), to: dir },
      ]) {
        expect(await call('backup.start', input)).toMatchObject({ ok: false, error: { code: 'PATH_REFUSED' } });
      }
    }));
});
