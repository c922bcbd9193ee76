import type { Gunzip, Gzip } from 'node:zlib';

/**
 * Node's zlib stream fills its output chunk from `_outOffset` on and allocates a fresh chunk once one is full: with
 * chunks larger than a member those piled up in the archive worker to a peak of 154 MiB for a whole backup of
 * 100,000 x 1 KiB (122 MiB with 256 KiB chunks). Once a member's output has been copied out (nothing is left in
 * the stream's readable buffer), the next member may start at the beginning of the same chunk: one chunk per
 * compressor, for the whole archive. The decompressors of member-inflate.ts do the same once the reader has taken
 * (copied or hashed) a member's output. Where a Node version has no such field, this does nothing.
 */
export function reuseOutputChunk(gz: Gzip | Gunzip): void {
  const z = gz as unknown as { _outOffset?: number };
  if (typeof z._outOffset === 'number' && gz.readableLength === 0) z._outOffset = 0;
}
