// Worker entry (bundled to dist/part-hasher.js): the sha256 of the parts a read of a backup set reads, on a thread
// of its own, from the reading thread's shared read buffers (see part-hasher.ts). It only reads those buffers.
import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import type { HasherInit, HasherReply, HasherRequest } from './part-hasher.js';

const init = (workerData as { init: HasherInit }).init;
const buffers = new Map<number, Buffer>();
let hash = createHash('sha256');

function reply(r: HasherReply): void {
  init.port.postMessage(r);
}

init.port.on('message', (m: HasherRequest) => {
  try {
    if (m.kind === 'buffer') buffers.set(m.id, Buffer.from(m.sab));
    else if (m.kind === 'update') {
      hash.update(buffers.get(m.id)!.subarray(0, m.len));
      reply({ kind: 'done', seq: m.seq });
    } else if (m.kind === 'bytes') {
      hash.update(m.bytes);
      reply({ kind: 'done', seq: m.seq });
    } else {
      const hex = hash.digest('hex');
      hash = createHash('sha256');
      reply({ kind: 'digest', seq: m.seq, hex });
    }
  } catch (e) {
    reply({ kind: 'failed', message: (e as Error).message });
  }
});
