// Worker entry (bundled to dist/file-writer.js): creates the small files of one extraction in batches sent by
// the extracting thread (see file-writers.ts). Everything it writes was judged there first; it only creates
// new files (O_CREAT|O_EXCL|O_NOFOLLOW) in folders that extraction made inside a root-only work folder.
import { closeSync, fchmodSync, fchownSync, fstatSync, fsyncSync, futimesSync, openSync, writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { CREATE_FLAGS, type Batch, type WriterFailure, type WriterInit, type WrongOwner } from './file-writers.js';
import { OWNERS_SEEN_KEPT } from './types.js';

const init = (workerData as { init: WriterInit }).init;
const inFlight = new Int32Array(init.counter);
const buffers = init.buffers.map((b) => Buffer.from(b));
let failure: WriterFailure | null = null;
/** Files whose owner or mode on disk is not what was set, since the last answer; the first few by name. */
let wrong = 0;
let wrongFirst: WrongOwner[] = [];
let wrongKept = 0;

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
      // Owner first (chown clears setuid), then the mode if the umask changed it, then the time.
      if (init.chown) fchownSync(fd, init.uid, init.gid);
      if (batch.chmod[i]) fchmodSync(fd, batch.modes[i]!);
      futimesSync(fd, batch.mtimes[i]!, batch.mtimes[i]!);
      if (init.chown) {
        // As the disk keeps them (one that ignores owners or modes answers with its own).
        const st = fstatSync(fd);
        const mode = st.mode & 0o7777;
        if (st.uid !== init.uid || st.gid !== init.gid || mode !== batch.modes[i]) {
          wrong++;
          if (wrongKept++ < OWNERS_SEEN_KEPT)
            wrongFirst.push({ name: batch.names[i]!, uid: st.uid, gid: st.gid, mode, want: batch.modes[i]! });
        }
      }
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
  if (wrong > 0) {
    init.port.postMessage({ wrong, wrongFirst });
    wrong = 0;
    wrongFirst = [];
  }
  Atomics.sub(inFlight, init.slot, 1);
  Atomics.notify(inFlight, init.slot);
});
