/**
 * The paths a hand-made archive has given so far, with their type, in 13–26 bytes per path whatever its length
 * (a Map of the path strings took ~370 bytes per entry: 4.7 GB for a tar.gz of 10 million empty files; this
 * table, ~150–300 MB). It still grows with the entry count, but 15–30 times more slowly.
 *
 * A path is kept as a 64-bit fingerprint (two 32-bit hashes of its UTF-16 code units with different multipliers,
 * each finished with murmur3's avalanche) in an open-addressing table (linear probing, at most 70 % full, doubled
 * when it would be more). Two different paths share a fingerprint with a probability of about n²/2⁶⁵: 3·10⁻⁶ for
 * 10 million paths, 10⁻⁹ for 200,000. Such a collision makes the adoption refuse the archive ("appears twice",
 * "not a folder"), or take a folder as already listed, whose files the restore's unpacking then cannot create
 * (it fails before anything is swapped): it can stop a restore, never put a file in the wrong place.
 */
export type PathType = 'dir' | 'file' | 'symlink';

const TYPE_CODE: Record<PathType, number> = { dir: 1, file: 2, symlink: 3 };
const TYPES: (PathType | undefined)[] = [undefined, 'dir', 'file', 'symlink'];
const MAX_LOAD = 0.7;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The two halves of a path's fingerprint. */
function fingerprint(p: string): [number, number] {
  let a = 0x811c9dc5 ^ p.length;
  let b = 0x9e3779b9 ^ Math.imul(p.length, 0x27d4eb2f);
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul((b << 5) | (b >>> 27), 0x5bd1e995) ^ c;
  }
  return [fmix32(a), fmix32(b)];
}

export class PathSet {
  private hi: Uint32Array;
  private lo: Uint32Array;
  /** 0: empty slot; else TYPE_CODE. */
  private kind: Uint8Array;
  private used = 0;

  constructor(capacity = 1024) {
    let n = 16;
    while (n < capacity) n *= 2;
    this.hi = new Uint32Array(n);
    this.lo = new Uint32Array(n);
    this.kind = new Uint8Array(n);
  }

  get size(): number {
    return this.used;
  }

  /** Table slots (for tests of the growth). */
  get capacity(): number {
    return this.kind.length;
  }

  get(p: string): PathType | undefined {
    const [h, l] = fingerprint(p);
    const i = this.find(h, l);
    return TYPES[this.kind[i]!];
  }

  /** Records `p` as `type` (replacing what was recorded for it). */
  set(p: string, type: PathType): void {
    if ((this.used + 1) / this.kind.length > MAX_LOAD) this.grow();
    const [h, l] = fingerprint(p);
    const i = this.find(h, l);
    if (this.kind[i] === 0) {
      this.used++;
      this.hi[i] = h;
      this.lo[i] = l;
    }
    this.kind[i] = TYPE_CODE[type];
  }

  /** The slot holding (h, l), or the empty slot where it would go. */
  private find(h: number, l: number): number {
    const mask = this.kind.length - 1;
    let i = (h ^ Math.imul(l, 0x9e3779b1)) & mask;
    while (this.kind[i] !== 0 && (this.hi[i] !== h || this.lo[i] !== l)) i = (i + 1) & mask;
    return i;
  }

  private grow(): void {
    const { hi, lo, kind } = this;
    const n = kind.length * 2;
    this.hi = new Uint32Array(n);
    this.lo = new Uint32Array(n);
    this.kind = new Uint8Array(n);
    for (let j = 0; j < kind.length; j++) {
      if (kind[j] === 0) continue;
      const i = this.find(hi[j]!, lo[j]!);
      this.hi[i] = hi[j]!;
      this.lo[i] = lo[j]!;
      this.kind[i] = kind[j]!;
    }
  }
}
