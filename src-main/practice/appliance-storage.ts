import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';

const SEGMENT_BYTES = 256 * 1024;
const FSYNC_EVERY = 10;

export interface StorageWriter {
  /** Stops appending, fsyncs and closes the open segment. */
  close(): Promise<void>;
  /** The segment file held open right now. */
  currentFile(): string;
}

/**
 * Keeps appending stream values into Storage like the product's stream store: one segment file is held
 * open for the whole run (so open-file checks see a running appliance), fsynced every few writes,
 * and rolled over at a size limit so a long practice run stays small.
 */
export async function startStorageWriter(storageDir: string, log: (m: string) => void): Promise<StorageWriter> {
  const dir = path.join(storageDir, 'streams');
  await fsp.mkdir(dir, { recursive: true });
  const existing = (await fsp.readdir(dir)).filter((n) => /^segment-\d+\.dat$/.test(n));
  let seq = existing.length;
  let file = '';
  let fh: FileHandle | undefined;
  let size = 0;
  let writes = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let busy: Promise<void> = Promise.resolve();

  async function openSegment(): Promise<void> {
    seq += 1;
    file = path.join(dir, `segment-${String(seq).padStart(6, '0')}.dat`);
    const h = await fsp.open(file, 'a');
    fh = h;
    size = (await h.stat()).size;
  }

  async function tick(): Promise<void> {
    if (closed || fh === undefined) return;
    const line = `${JSON.stringify({ Timestamp: new Date().toISOString(), Stream: 'Pump01.Pressure', Value: 3 + Math.random() })}\n`;
    await fh.appendFile(line);
    size += Buffer.byteLength(line);
    writes += 1;
    if (writes % FSYNC_EVERY === 0) await fh.sync();
    if (size >= SEGMENT_BYTES) {
      await fh.sync();
      await fh.close();
      await openSegment();
    }
  }

  function schedule(): void {
    if (closed) return;
    timer = setTimeout(
      () => {
        busy = tick().catch((e: unknown) => log(`storage write failed: ${(e as Error).message}`));
        void busy.then(schedule);
      },
      100 + Math.floor(Math.random() * 100),
    );
  }

  await openSegment();
  schedule();
  return {
    currentFile: () => file,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await busy;
      if (fh) {
        await fh.sync().catch(() => undefined);
        await fh.close();
        fh = undefined;
      }
    },
  };
}
