import { describe, expect, it } from 'vitest';
import { RecoveryError } from '../../src-main/engine/errors.js';
import { JobHost, type JobIo } from '../../src-main/host/jobs.js';
import type { JobEventEnvelope } from '../../src-main/shared/contract.js';

function collect(host: JobHost): JobEventEnvelope[] {
  const seen: JobEventEnvelope[] = [];
  host.subscribe((e) => seen.push(e));
  return seen;
}

async function until<T>(f: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const finished = (events: JobEventEnvelope[], jobId: string) =>
  events.find((e) => e.jobId === jobId && e.event.type === 'finished');

describe('job host', () => {
  it('numbers events, replays them after a given seq and reports done', async () => {
    const host = new JobHost();
    const seen = collect(host);
    const id = host.start(
      'verify',
      async ({ emit }) => {
        emit({ type: 'log', level: 'info', message: 'one' });
        emit({ type: 'log', level: 'info', message: 'two' });
        emit({ type: 'finished', ok: true, result: { kind: 'verify', files: 2 } });
        return { n: 2 };
      },
      { changesMachine: false },
    );
    expect(id).toMatch(/^job-[0-9a-f-]{36}$/);
    await until(() => finished(seen, id));
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3]);
    const replay = host.events(id, 1);
    expect(replay.done).toBe(true);
    expect(replay.events.map((e) => e.seq)).toEqual([2, 3]);
    // The runbook said `finished` itself: the host must not add a second one.
    expect(host.events(id).events.filter((e) => e.event.type === 'finished')).toHaveLength(1);
  });

  it('turns a thrown RecoveryError into a finished event with its code and no stack', async () => {
    const host = new JobHost();
    const seen = collect(host);
    const id = host.start(
      'backup',
      async () => {
        throw new RecoveryError('MEDIUM_FULL', 'The stick is full.');
      },
      { changesMachine: true },
    );
    const f = await until(() => finished(seen, id));
    expect(f.event).toEqual({
      type: 'finished',
      ok: false,
      error: { code: 'MEDIUM_FULL', message: 'The stick is full.' },
    });
    expect(JSON.stringify(f)).not.toContain('at ');
  });

  it('asks through prompt events and passes credentials to the runbook without recording them', async () => {
    const host = new JobHost();
    const seen = collect(host);
    let got: unknown;
    const id = host.start(
      'restore',
      async ({ interaction }) => {
        const go = await interaction.confirm({ stepId: 's', title: 'Stop', message: 'Stop it?', action: 'Stop' });
        got = await interaction.credentials({ stepId: 'c', entries: [] });
        return { go };
      },
      { changesMachine: true },
    );
    const p1 = await until(() => seen.find((e) => e.event.type === 'prompt'));
    if (p1.event.type !== 'prompt') throw new Error('unreachable');
    expect(host.events(id).pending?.promptId).toBe(p1.event.promptId);
    // An answer of the wrong kind is refused and the prompt stays open.
    expect(host.respond(id, p1.event.promptId, { kind: 'credentials', values: null })).toBe(false);
    expect(host.respond(id, p1.event.promptId, { kind: 'confirm', ok: true })).toBe(true);
    expect(host.respond(id, p1.event.promptId, { kind: 'confirm', ok: true })).toBe(false);

    const p2 = await until(() => seen.filter((e) => e.event.type === 'prompt')[1]);
    if (p2.event.type !== 'prompt') throw new Error('unreachable');
    const secret = 'hunter2-very-secret';
    host.respond(id, p2.event.promptId, { kind: 'credentials', values: { 'egress/a': { ClientSecret: secret } } });
    const f = await until(() => finished(seen, id));
    // Finished ok; results are declared by runbooks themselves, the host never makes one up from a return value.
    expect(f.event).toMatchObject({ type: 'finished', ok: true });
    expect(f.event).not.toHaveProperty('result');
    expect(got).toEqual({ 'egress/a': { ClientSecret: secret } });
    expect(JSON.stringify(host.events(id))).not.toContain(secret);
    expect(JSON.stringify(seen)).not.toContain(secret);
  });

  it('cancels a job waiting on a prompt and one waiting on its abort signal', async () => {
    const host = new JobHost();
    const seen = collect(host);
    const prompting = host.start(
      'backup',
      async ({ interaction }) => interaction.confirm({ stepId: 's', title: 't', message: 'm', action: 'a' }),
      { changesMachine: true },
    );
    await until(() => seen.find((e) => e.jobId === prompting && e.event.type === 'prompt'));
    expect(host.cancel(prompting)).toBe(true);
    expect((await until(() => finished(seen, prompting))).event).toMatchObject({
      ok: false,
      error: { code: 'CANCELLED' },
    });

    const waiting = host.start(
      'verify',
      ({ signal }: JobIo) =>
        new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
      { changesMachine: false },
    );
    await new Promise((r) => setTimeout(r, 20));
    host.cancel(waiting);
    expect((await until(() => finished(seen, waiting))).event).toMatchObject({
      ok: false,
      error: { code: 'CANCELLED' },
    });
    expect(host.cancel(waiting)).toBe(false);
  });

  it('refuses a second machine-changing job while one runs, but allows a verification', async () => {
    const host = new JobHost();
    const seen = collect(host);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const busy: boolean[] = [];
    host.onBusyChange((b) => busy.push(b));
    const restore = host.start('restore', () => gate, { changesMachine: true });
    let err: unknown;
    try {
      host.start('backup', async () => undefined, { changesMachine: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RecoveryError);
    expect((err as RecoveryError).code).toBe('RESTORE_IN_PROGRESS');
    expect((err as RecoveryError).message).toContain(restore);
    const verify = host.start('verify', async () => 'ok', { changesMachine: false });
    await until(() => finished(seen, verify));
    expect(host.busy).toBe(true);
    release();
    await until(() => finished(seen, restore));
    expect(host.busy).toBe(false);
    expect(busy).toEqual([true, false]);
    // Once it ended, a new backup may start.
    expect(host.start('backup', async () => undefined, { changesMachine: true })).toMatch(/^job-/);
  });

  it('says finished only once the job is over (its lock released): done, not busy, and the next job may start', async () => {
    const host = new JobHost();
    let release!: () => void;
    const lockHeld = new Promise<void>((r) => (release = r));
    // Each `finished` as its listeners meet it: what job.events and the host say at that very moment.
    const atFinished: Array<{ done: boolean; busy: boolean; running: number; next: string }> = [];
    let id = '';
    host.subscribe((e) => {
      if (e.event.type !== 'finished' || e.jobId !== id) return;
      let next: string;
      try {
        next = host.start('backup', async () => undefined, { changesMachine: true });
      } catch (err) {
        next = (err as RecoveryError).code;
      }
      atFinished.push({
        done: host.events(e.jobId).done,
        busy: host.runningMachineJob()?.id === e.jobId,
        running: host.running().filter((j) => j.jobId === e.jobId).length,
        next,
      });
    });
    const seen = collect(host);
    // A runbook says `finished` inside its lock; the lock is released after (withJobLock in the CLI and handlers).
    id = host.start(
      'restore',
      async ({ emit }) => {
        emit({ type: 'log', level: 'info', message: 'restored' });
        emit({ type: 'finished', ok: true });
        emit({ type: 'log', level: 'info', message: 'releasing the job lock' });
        await lockHeld;
      },
      { changesMachine: true },
    );
    await until(() => seen.find((e) => e.jobId === id && e.event.type === 'log'));
    await new Promise((r) => setTimeout(r, 50));
    expect(finished(seen, id)).toBeUndefined();
    expect(host.events(id)).toMatchObject({ done: false });
    release();
    await until(() => finished(seen, id));
    expect(atFinished).toEqual([{ done: true, busy: false, running: 0, next: expect.stringMatching(/^job-/) }]);
    // Nothing after `finished`: it is the last event of the job.
    expect(host.events(id).events.at(-1)!.event.type).toBe('finished');
    expect(host.events(id).events.map((e) => e.event.type)).toEqual(['log', 'log', 'finished']);
  });

  it('keeps only the latest of consecutive progress events in the replay log', async () => {
    const host = new JobHost();
    const seen = collect(host);
    const id = host.start(
      'verify',
      async ({ emit }) => {
        for (let i = 0; i < 50; i++) {
          emit({
            type: 'progress',
            stepId: 'hash',
            progress: {
              phase: 'hashing',
              bytes: i,
              totalBytes: 49,
              files: 0,
              totalFiles: null,
              rate: 0,
              etaSeconds: null,
              elapsedMs: i,
            },
          });
        }
      },
      { changesMachine: false },
    );
    await until(() => finished(seen, id));
    expect(seen.filter((e) => e.event.type === 'progress')).toHaveLength(50);
    const replay = host.events(id).events;
    expect(replay).toHaveLength(2);
    expect(replay[0]!.event).toMatchObject({ type: 'progress', progress: { bytes: 49 } });
    expect(() => host.events('job-00000000-0000')).toThrow(/no job/);
  });
});
