// Worker entry (bundled to dist/file-writer.js): creates the small files of one extraction in batches sent by
// the extracting thread (see file-writers.ts). Everything it writes was judged there first; it only creates
// new files (O_CREAT|O_EXCL|O_NOFOLLOW) in folders that extraction made inside a root-only work folder.
import { closeSync, fchmodSync, fchownSync, fsyncSync, futimesSync, openSync, writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { CREATE_FLAGS, type Batch, type WriterFailure, type WriterInit } from './file-writers.js';

const init = (workerData as { init: WriterInit }).init;
const inFlight = new Int32Array(init.counter);
const buffers = init.buffers.map((b) => Buffer.from(b));
let failure: WriterFailure | null = null;

function writeAll(fd: number, b: Buffer): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}

function run(batch: Batch): void {
  const data = buffers[batch.buffer]!.subarray(0, batch.bytes);
  let off = 0;
  for (let i = 0; i < batch.abs.length; i++) {
    const len = batch.lens[i]!;
    const abs = batch.abs[i]!;
    let fd = -1;
    try {
      fd = openSync(abs, CREATE_FLAGS, batch.modes[i]);
      if (len > 0) writeAll(fd, data.subarray(off, off + len));
      // Owner first (chown clears setuid), then the mode if the umask changed it, then the time; owner and time
      // by the extracting thread instead when it said it would (finishHere: it was waiting for this writer).
      if (init.chown && !batch.finishHere) fchownSync(fd, init.uid, init.gid);
      if (batch.chmod[i]) fchmodSync(fd, batch.modes[i]!);
      if (!batch.finishHere) futimesSync(fd, batch.mtimes[i]!, batch.mtimes[i]!);
      if (init.fsync) fsyncSync(fd);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      failure = { name: batch.names[i]!, abs, code: err.code, message: err.message };
      return;
    } finally {
      if (fd !== -1) closeSync(fd);
    }
    off += len;
  }
}

init.port.on('message', (batch: Batch) => {
  // After a failure the rest is not written: the extraction stops and removes its staging folders.
  if (failure === null) run(batch);
  if (failure !== null) init.port.postMessage({ failure });
  Atomics.sub(inFlight, init.slot, 1);
  Atomics.notify(inFlight, init.slot);
});
