import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Profile } from '../../src-main/engine/profiles/schema.js';
import {
  emptyProductState,
  removeWork,
  runProductStep,
  type ProductHost,
} from '../../src-main/engine/runbook/product/product-steps.js';
import { loopbackListeners } from '../../src-main/engine/appliance/listener-owner.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { freePort } from '../../src-main/practice/free-port.js';
import { squatterRunScript, startSquatter } from '../helpers/port-squatter.js';
import { productHost, stepsProfile } from '../helpers/product-host.js';
import { rejection } from '../helpers/rejection.js';
import { requireRunit, startRunsvdir } from '../helpers/runit.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * A product step's http action sends the product its own backup (EVC-net Edge: `upload: {artifact:…}`) or values an
 * earlier step captured from the product's answers (a token) to the product's loopback API. While the product does
 * not hold its port (the restore stopped it) any local account can listen there. The credentials' path refused
 * such a listener (listener-owner.ts); the http steps sent it the upload. Now held to the same rule: a listener of
 * another account than root, this one or the product's is sent nothing.
 */
const blocked = process.getuid?.() !== 0 ? 'needs root (a second, unprivileged account)' : undefined;
const USER = 'er-squat';
const PRIVATE = 'PRIVATE-PRODUCT-BACKUP-BYTES';

function profileFor(port: number, step: Record<string, unknown>, extra: Record<string, unknown> = {}): Profile {
  return stepsProfile(
    [{ id: 'send', title: 'Send', explain: 'Sends the product something.', at: 'restore.import', ...step }],
    {
      api: { baseUrl: `http://127.0.0.1:${port}`, versionEndpoint: '/v', timeoutMs: 2000 },
      ...extra,
    },
  );
}

describe.skipIf(blocked !== undefined)(
  `a product step's http action and a squatter on the API port${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let dir = '';
    let log = '';
    let squatter: ChildProcess | undefined;
    const hosts: ProductHost[] = [];
    beforeAll(async () => {
      ensureTestOwner(USER);
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'steps-squat-'));
      await fsp.chmod(dir, 0o755);
    });
    afterEach(() => {
      squatter?.kill('SIGKILL');
      squatter = undefined;
    });
    afterAll(async () => {
      for (const h of hosts) await removeWork(h);
      await fsp.rm(dir, { recursive: true, force: true });
    });

    async function squat(name: string): Promise<number> {
      log = path.join(dir, `${name}.log`);
      await fsp.writeFile(log, '');
      await fsp.chown(log, uidForUser(USER)!, gidForGroup(USER)!);
      const s = await startSquatter(USER, log);
      squatter = s.child;
      return s.port;
    }

    /** Runs the profile's step; `vars` as captured before, `work` its work folder (made here: what it uploads). */
    function step(profile: Profile, vars?: Record<string, string>, work?: string): Promise<string> {
      const h = productHost(profile, {
        state: { ...emptyProductState(), ...(vars ? { vars } : {}), ...(work ? { work } : {}) },
      });
      hosts.push(h);
      return runProductStep(h, profile.steps[0]!, { log: () => undefined, progress: () => undefined });
    }
    const run = (profile: Profile, vars?: Record<string, string>, work?: string) =>
      rejection(step(profile, vars, work));

    /** A work folder holding the product's backup, as the restore copies it there; an upload of it. */
    async function backupInWork(): Promise<{ work: string; upload: Record<string, unknown> }> {
      const work = await fsp.mkdtemp(path.join(dir, 'work-'));
      await fsp.writeFile(path.join(work, 'product-backup.bin'), PRIVATE);
      return {
        work,
        upload: { kind: 'http', method: 'POST', path: '/api/v1/backups', upload: '{work}/product-backup.bin' },
      };
    }

    const said = (): string => (existsSync(log) ? readFileSync(log, 'utf8') : '');

    it("does not upload the product's backup to it", async () => {
      const { work, upload } = await backupInWork();
      const port = await squat('upload');
      const e = await run(profileFor(port, upload), undefined, work);
      expect(said()).not.toContain(PRIVATE);
      expect(said()).toBe('');
      expect(e.message).toMatch(new RegExp(`uid ${uidForUser(USER)!}.*${USER}.*Nothing was sent`));
    });

    it('does not send it a value captured from the product (a token), in the body or the path', async () => {
      const port = await squat('token');
      const vars = { token: 'product-token-from-its-answer' };
      const body = await run(
        profileFor(port, { kind: 'http', method: 'POST', path: '/api/login', body: { t: '{var:token}' } }),
        vars,
      );
      const inPath = await run(profileFor(port, { kind: 'http', path: '/api/jobs?t={var:token}' }), vars);
      expect(said()).toBe('');
      for (const e of [body, inPath]) expect(e.message).toMatch(/Nothing was sent/);
    });

    it("uploads to the product's own listener: its service runs as an account the profile does not name", async () => {
      const runit = requireRunit();
      if (runit.skip) return;
      log = path.join(dir, 'product.log');
      await fsp.writeFile(log, '');
      await fsp.chown(log, uidForUser(USER)!, gidForGroup(USER)!);
      const port = await freePort();
      const tree = await startRunsvdir(path.join(dir, 'sv'), { product: squatterRunScript(USER, log, port) });
      try {
        const service = { manager: 'runit', name: tree.services[0]!, stopTimeoutSeconds: 10 };
        const svc = serviceFor(service as Profile['service']);
        await svc.waitFor('running', 10_000);
        for (let i = 0; i < 200 && loopbackListeners(port).length === 0; i++)
          await new Promise((r) => setTimeout(r, 50));
        const { work, upload } = await backupInWork();
        expect(await step(profileFor(port, upload, { service }), undefined, work)).toMatch(/HTTP 200/);
        expect(said()).toContain(PRIVATE);
        // Stopped, the same account's program on the port is a stranger again: nothing is sent.
        execFileSync('sv', ['-w', '10', 'down', tree.services[0]!]);
        const squat = await startSquatter(USER, log, port);
        squatter = squat.child;
        await fsp.writeFile(log, '');
        const e = await run(profileFor(port, upload, { service }), undefined, (await backupInWork()).work);
        expect(e.message).toMatch(/Nothing was sent/);
        expect(said()).toBe('');
      } finally {
        await tree.stop();
      }
    });

    it("takes no answer from it when the profile names the product's account", async () => {
      const port = await squat('every');
      const e = await run(
        profileFor(
          port,
          { kind: 'http', path: '/ready', expect: { pointer: '/Id', equals: 'e1' } },
          { ownership: { user: 'root', group: 'root', dirMode: '0755', fileMode: '0644' } },
        ),
      );
      expect(said()).toBe('');
      expect(e.message).toMatch(/Nothing was sent/);
    });
  },
);
