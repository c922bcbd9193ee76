import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * What the process keeps: heap used plus array buffers, after a full garbage collection, twice.
 *
 * One collection is not enough for array buffers: V8 frees the memory of dead ArrayBuffers on a background task
 * after a full collection, and `process.memoryUsage().arrayBuffers` still counts them until that task is done (the
 * next collection waits for it). Measured here after one collection while a hand-made zip was read: 4–36 MB of
 * array buffers from run to run, nearly all of them dead 1 MiB read windows; after two, within 0.5 MB every run.
 * hand-made-zip-many-entries failed the project's CI on that noise (24.8 MB against its 24).
 */
export function keptBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
