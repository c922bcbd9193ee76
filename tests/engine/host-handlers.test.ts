import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers, type RequestHost } from '../../src-main/host/handlers.js';
import { createPracticeSandbox } from '../../src-main/practice/sandbox.js';
import type { BackupGroup, JobEventEnvelope, PracticeView, ProfilePlan } from '../../src-main/shared/contract.js';

/**
 * The handler table against the real engine and a real practice sandbox: what the wizard does, minus the UI.
 * Prompts are answered by a small auto-responder the way a technician would.
 */
let dir: string;
let host: RequestHost;
let practice: PracticeView;
const events: JobEventEnvelope[] = [];
const secrets = { ClientSecret: 'new-adh-secret-4711', Password: 'new-pi-password-4712' };

async function ok<T>(name: string, input: unknown): Promise<T> {
  const env = await host.dispatch(name, input);
  if (!env.ok) throw new Error(`${name}: ${env.error.code} ${env.error.message}`);
  return env.value as T;
}

/** Confirms every step and fills every secret field; returns the job's finished event. */
async function runJob(jobId: string, timeoutMs = 90_000): Promise<JobEventEnvelope['event']> {
  const end = Date.now() + timeoutMs;
  const answered = new Set<string>();
  for (;;) {
    for (const e of events.filter((x) => x.jobId === jobId)) {
      if (e.event.type === 'finished') return e.event;
      if (e.event.type === 'prompt' && !answered.has(e.event.promptId)) {
        answered.add(e.event.promptId);
        const p = e.event.prompt;
        const answer =
          p.kind === 'confirm'
            ? { kind: 'confirm' as const, ok: true }
            : {
                kind: 'credentials' as const,
                values: Object.fromEntries(
                  p.request.entries.map((en) => [
                    en.key,
                    Object.fromEntries(
                      en.fields
                        .filter((f) => f.secret)
                        .map((f) => [f.name, secrets[f.name as keyof typeof secrets] ?? 'x']),
                    ),
                  ]),
                ),
              };
        await ok('job.respond', { jobId, promptId: e.event.promptId, answer });
      }
    }
    if (Date.now() > end)
      throw new Error(
        `job ${jobId} did not finish: ${JSON.stringify(events.filter((x) => x.jobId === jobId).slice(-3))}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'host-handlers-'));
  host = createHandlers({ shell: 'browser', stateDir: path.join(dir, 'state'), practiceBaseDir: dir });
  host.jobs.subscribe((e) => events.push(e));
  practice = await ok<PracticeView>('practice.setup', {});
});

afterAll(async () => {
  await host?.dispose();
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('handler table', () => {
  it('validates input at the boundary and reports errors as data', async () => {
    expect(await host.dispatch('backup.start', { profileRef: 'eds-linux' })).toMatchObject({
      ok: false,
      error: { code: 'BAD_INPUT' },
    });
    expect(await host.dispatch('job.cancel', { jobId: '../../etc' })).toMatchObject({
      ok: false,
      error: { code: 'BAD_INPUT' },
    });
    // The page may name only offered profiles: a path is refused before anything is read (exists or not).
    const r = await host.dispatch('profiles.plan', { profileRef: path.join(dir, 'missing.json') });
    expect(r).toMatchObject({ ok: false, error: { code: 'PROFILE_UNTRUSTED' } });
    expect(JSON.stringify(r)).not.toContain('    at ');
  });

  it('reports practice mode and lists only the practice profiles after practice.setup', async () => {
    // Practice set up on demand (the wizard's Practice button) can be left: not a practice-only host.
    expect(await ok('app.info', {})).toMatchObject({
      practice: true,
      practiceOnly: false,
      detected: null,
      shell: 'browser',
    });
    const refs = (await ok<{ ref: string }[]>('profiles.list', {})).map((p) => p.ref);
    expect(refs).toEqual(expect.arrayContaining([practice.old.profileRef, practice.replacement.profileRef]));
    expect(refs).not.toContain('eds-linux'); // a real product: practice jobs lock and journal in the sandbox
  });

  it('a host started with its practice sandbox (serve --practice) says it is practice-only', async () => {
    const sb = await createPracticeSandbox({ baseDir: dir });
    const only = createHandlers({ shell: 'browser', stateDir: path.join(dir, 'state-only'), practice: sb });
    try {
      const r = await only.dispatch('app.info', {});
      expect(r).toMatchObject({ ok: true, value: { practice: true, practiceOnly: true } });
    } finally {
      await only.dispose();
      await sb.dispose();
    }
  });

  it("'Safely remove the stick' in practice says the stick is a folder, and what the button does with a real one", async () => {
    const r = await ok<{ ok: boolean; message: string }>('drives.eject', { target: practice.stickDir });
    expect(r.ok).toBe(true);
    expect(r.message).toContain(`the "stick" is the folder ${practice.stickDir} on this computer`);
    expect(r.message).toMatch(/nothing was unmounted and there is nothing to pull out/);
    expect(r.message).toMatch(/With a real stick, this button .* unmounts the stick and powers it off/);
    expect(r.message).toMatch(/pull it out only when the wizard .* says it is safe/);
    // The folder is untouched: the practice goes on with its restore from it.
    expect((await fsp.stat(practice.stickDir)).isDirectory()).toBe(true);
  });

  it('plans the old practice machine: sizes, a running service and no rights problems', async () => {
    const plan = await ok<ProfilePlan>('profiles.plan', {
      profileRef: practice.old.profileRef,
      root: practice.old.root,
    });
    expect(plan.items.map((i) => i.id)).toEqual(['Configuration', 'Storage']);
    expect(plan.items.every((i) => i.exists && i.files > 0 && i.sizeBytes > 0)).toBe(true);
    expect(plan.service.state).toBe('running');
    expect(plan.problems).toEqual([]);
    expect(plan.canElevate).toBe(false);
  });

  it('says which rights and users a real profile needs when they are missing', async () => {
    // Under a folder of the practice sandbox (the only place the page may move a profile's folders to).
    const nothing = path.join(path.dirname(practice.stickDir), 'nothing');
    const plan = await ok<ProfilePlan>('profiles.plan', { profileRef: 'eds-linux', root: nothing });
    // This machine has no edgedatastore user; a missing folder is named too.
    expect(plan.problems.map((p) => p.code)).toEqual(expect.arrayContaining(['USER_MISSING', 'SOURCE_MISSING']));
  });

  it('backs up the old machine, refuses a second backup meanwhile, verifies, restores onto the replacement and shows the report', async () => {
    const { jobId } = await ok<{ jobId: string }>('backup.start', {
      profileRef: practice.old.profileRef,
      root: practice.old.root,
      to: practice.stickDir,
    });
    const second = await host.dispatch('backup.start', {
      profileRef: practice.old.profileRef,
      root: practice.old.root,
      to: practice.stickDir,
    });
    expect(second).toMatchObject({ ok: false, error: { code: 'BAD_INPUT', message: expect.stringContaining(jobId) } });
    const fin = await runJob(jobId);
    expect(fin).toMatchObject({ type: 'finished', ok: true });
    // `finished` is recorded by the runbook before its runner has returned; the job is done once it has (the host
    // then releases what it held): asked at once, on a loaded machine, it was sometimes not yet.
    let replay = await ok<{ events: JobEventEnvelope[]; done: boolean }>('job.events', { jobId });
    for (const until = Date.now() + 10_000; !replay.done && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 50));
      replay = await ok<{ events: JobEventEnvelope[]; done: boolean }>('job.events', { jobId });
    }
    expect(replay.done).toBe(true);
    expect(replay.events.some((e) => e.event.type === 'plan')).toBe(true);

    const groups = await ok<BackupGroup[]>('backups.list', { dir: practice.stickDir });
    const set = groups.flatMap((g) => g.backups)[0]!;
    expect(set.complete).toBe(true);
    // Filed under the old practice machine's own device id: from the replacement's side, another device.
    expect(groups[0]!.deviceId).toMatch(/^practice-old-/);
    expect(groups[0]!.thisDevice).toBe(false);

    const verify = await ok<{ jobId: string }>('verify.start', { backup: set.path });
    expect(await runJob(verify.jobId)).toMatchObject({ ok: true });

    // Practice rehearses the real case: the backup comes from another device, and that must be a conscious choice.
    const refused = await ok<{ jobId: string }>('restore.start', {
      backup: set.path,
      profileRef: practice.replacement.profileRef,
      root: practice.replacement.root,
    });
    const refusedEnd = await runJob(refused.jobId, 120_000);
    expect(refusedEnd).toMatchObject({ type: 'finished', ok: false, error: { code: 'OTHER_DEVICE' } });
    const restore = await ok<{ jobId: string }>('restore.start', {
      backup: set.path,
      profileRef: practice.replacement.profileRef,
      root: practice.replacement.root,
      allowOtherDevice: true,
    });
    const done = await runJob(restore.jobId, 120_000);
    expect(done, JSON.stringify(done)).toMatchObject({ type: 'finished', ok: true });
    // Typed secrets reached the appliance but never the job log.
    const log = JSON.stringify(events);
    expect(log).not.toContain(secrets.ClientSecret);
    expect(log).not.toContain(secrets.Password);

    const reportsDir = path.dirname(set.path);
    const report = (await fsp.readdir(reportsDir)).find((f) => /^report-.*\.html$/.test(f));
    expect(report).toBeDefined();
    const html = await ok<{ html: string }>('report.read', { path: path.join(reportsDir, report!) });
    expect(html.html).toContain('<html');
    // A finished restore is history: the wizard must not greet the technician with "a restore did not finish".
    const st = await ok<{ canResume: boolean } | null>('restore.status', {});
    expect(st).toBeNull();
  });

  it('reads only its own reports, never other files', async () => {
    const planted = path.join(dir, 'report-evil.html');
    await fsp.writeFile(planted, '<html>not ours</html>');
    for (const p of ['/etc/passwd', planted, path.join(practice.stickDir, '..', 'report-evil.html')]) {
      expect(await host.dispatch('report.read', { path: p })).toMatchObject({
        ok: false,
        error: { code: 'BAD_INPUT' },
      });
    }
    // A symlink inside a report folder pointing outside is refused too.
    const reports = path.join(dir, 'state', 'reports');
    await fsp.mkdir(reports, { recursive: true });
    await fsp.symlink(planted, path.join(reports, 'link.html'));
    expect(await host.dispatch('report.read', { path: path.join(reports, 'link.html') })).toMatchObject({ ok: false });
  });

  it('has no elevated relaunch in the browser shell', async () => {
    expect(await ok('app.relaunchElevated', {})).toMatchObject({ started: false });
  });

  it('puts a killed backup right when the wizard starts: the service it had stopped runs again, and it is said', async () => {
    expect(await ok('backups.recoverInterrupted', {})).toBeNull();
    const { loadProfile } = await import('../../src-main/engine/profiles/load.js');
    const { serviceFor } = await import('../../src-main/engine/service/index.js');
    const { BackupJournalStore } = await import('../../src-main/engine/backup/backup-journal.js');
    const profile = await loadProfile(practice.old.profileRef);
    const svc = serviceFor(profile.service);
    // What a backup killed mid-archive leaves: its journal says it stopped the service, which is stopped.
    const store = await BackupJournalStore.create(path.join(dir, 'state'), profile, false);
    store.j.serviceBefore = 'running';
    store.j.stoppedByUs = true;
    store.j.phase = 'archiving';
    store.j.pid = 2 ** 22 + 1;
    await store.save('archiving');
    await svc.stop();
    await svc.waitFor('stopped', 30_000);
    const r = await ok<{ message: string; serviceStarted: boolean } | null>('backups.recoverInterrupted', {});
    expect(r?.serviceStarted).toBe(true);
    expect(r?.message).toMatch(/was interrupted[\s\S]*started again/);
    expect(r?.message).not.toMatch(/--[a-z]|edge-recovery [a-z]/);
    expect((await svc.status()).state).toBe('running');
    // Said once: the journal is gone.
    expect(await ok('backups.recoverInterrupted', {})).toBeNull();
  });
});
