import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { promises as fsp, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeWork, runProductStep, type ProductHost } from '../../src-main/engine/runbook/product/product-steps.js';
import { productHost, stepsProfile } from '../helpers/product-host.js';
import { rejection } from '../helpers/rejection.js';

/**
 * What a product's API sends an http step is held in memory only as far as it must be. A stand-in on the API port (or
 * a product gone wrong) answering a step with an endless body had the whole of it read into memory (res.text()):
 * hundreds of MiB a second on loopback until the step's timeout, the tool's memory with it. A step that saves the
 * answer (EVC-net Edge's backup export, `saveTo`) held the whole export twice (the body, then a Buffer copy) before a
 * byte was written: a large export took as much memory as its size, twice.
 */
const BIG = 256 * 1024 * 1024;
const CHUNK = Buffer.alloc(1024 * 1024, 0x61);

let server: Server;
let port = 0;
let sent = 0;
let received = { bytes: 0, sha256: '' };
let dir = '';
const hosts: ProductHost[] = [];

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'product-answer-size-'));
  server = createServer((req, res) => {
    if (req.method === 'POST') {
      // An import: what arrived, counted and hashed as it comes.
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
      });
      req.on('end', () => {
        received = { bytes: n, sha256: h.digest('hex') };
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      });
      return;
    }
    sent = 0;
    res.setHeader('content-type', req.url === '/export' ? 'application/octet-stream' : 'application/json');
    // 256 MiB as fast as the reader takes it (with backpressure), then the end.
    const more = (): void => {
      while (sent < BIG) {
        sent += CHUNK.length;
        if (!res.write(CHUNK)) {
          res.once('drain', more);
          return;
        }
      }
      res.end();
    };
    res.on('close', () => res.off('drain', more));
    more();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  for (const h of hosts) await removeWork(h);
  await fsp.rm(dir, { recursive: true, force: true });
});

function stepHost(step: Record<string, unknown>): { h: ProductHost; run: () => Promise<string> } {
  const p = stepsProfile(
    [{ title: 'A step', explain: 'It asks the API.', at: 'backup.after-stop', id: 's', ...step }],
    {
      api: { baseUrl: `http://127.0.0.1:${port}`, versionEndpoint: '/v', timeoutMs: 60_000 },
    },
  );
  const h = productHost(p);
  hosts.push(h);
  const s = { log: () => undefined, progress: () => undefined };
  return { h, run: () => runProductStep(h, p.steps[0]!, s) };
}

/** The process's peak resident memory above where it stood, while `p` runs (sampled every 10 ms). */
async function peakGrowth<T>(p: () => Promise<T>): Promise<{ growth: number; result: T | Error }> {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  try {
    const result = await p().catch((e: Error) => e);
    peak = Math.max(peak, process.memoryUsage().rss);
    return { growth: peak - base, result };
  } finally {
    clearInterval(t);
  }
}

describe('an http step and a very large answer', () => {
  // First: the process's memory is measured from where it stands, and a read of the whole answer leaves it high.
  it('saves a large export to its file as it arrives, not through memory', async () => {
    const { h, run } = stepHost({ kind: 'http', path: '/export', saveTo: '{work}/export.bin' });
    const { growth, result } = await peakGrowth(run);
    if (result instanceof Error) throw result;
    expect(result).toMatch(/saved 256(\.0)? MiB to/);
    const saved = path.join(h.state.work!, 'export.bin');
    const want = createHash('sha256');
    for (let i = 0; i < BIG / CHUNK.length; i++) want.update(CHUNK);
    expect(createHash('sha256').update(readFileSync(saved)).digest('hex')).toBe(want.digest('hex'));
    expect(growth).toBeLessThan(128 * 1024 * 1024);
    // The same export uploaded back (the restore's import step): sent from its file as it goes, not through memory.
    const up = stepsProfile(
      [
        {
          title: 'Import',
          explain: 'It sends the export.',
          at: 'backup.after-stop',
          id: 'u',
          kind: 'http',
          method: 'POST',
          path: '/import',
          upload: '{work}/export.bin',
          expect: { pointer: '/ok', equals: true },
        },
      ],
      { api: { baseUrl: `http://127.0.0.1:${port}`, versionEndpoint: '/v', timeoutMs: 60_000 } },
    );
    const hu = productHost(up, { state: h.state });
    hosts.push(hu);
    const sent2 = await peakGrowth(() =>
      runProductStep(hu, up.steps[0]!, { log: () => undefined, progress: () => undefined }),
    );
    if (sent2.result instanceof Error) throw sent2.result;
    expect(received).toEqual({ bytes: BIG, sha256: createHash('sha256').update(readFileSync(saved)).digest('hex') });
    expect(sent2.growth).toBeLessThan(128 * 1024 * 1024);
  }, 120_000);

  it('stops reading a JSON answer past the bound and fails the step', async () => {
    const { run } = stepHost({ kind: 'http', path: '/status', expect: { pointer: '/ok', equals: true } });
    const { growth, result } = await peakGrowth(run);
    expect(result).toBeInstanceOf(Error);
    const e = await rejection(Promise.reject(result as Error));
    expect({ code: e.code, message: e.message }).toMatchObject({
      code: 'STEP_FAILED',
      message: expect.stringMatching(/more than 16 MiB/) as unknown as string,
    });
    // It stopped reading: the stand-in could not send its 256 MiB, and memory did not follow it.
    expect(sent).toBeLessThan(BIG);
    expect(growth).toBeLessThan(128 * 1024 * 1024);
  }, 120_000);
});
