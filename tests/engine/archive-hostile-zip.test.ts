import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * Handed over by attack2, fixed by the lead (zip-reader.ts refuseOverlaps): a zip whose central directory
 * lists many entries that all point at the same local header and data (David Fifield's "overlapping" zip bomb).
 * Each entry's CRC-32 and size are right, so every entry reads as good: a 4 KB zip of three entries reads as
 * 12 MiB here; with 65,535 entries on one 4 GiB stream (4 MiB deflated) a 6 MB zip is 256 TiB, which
 * `verify`, `adopt` and a restore's first step inflate and hash, entry after entry, for days. Debian's
 * `unzip -t` (Info-ZIP 6.0 with the CVE-2019-13232 fix) refuses it: "invalid zip file with overlapped
 * components (possible zip bomb)". Our reader refuses it the same way (entries' local header + data must not
 * overlap; sorted by offset), before it inflates a byte.
 */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let work: string;
let zip: string;

const MAKE = `
import struct, sys, zlib
out, n = sys.argv[1], int(sys.argv[2])
data = b'\\0' * (4 * 1024 * 1024)
comp = zlib.compressobj(9, zlib.DEFLATED, -15)
c = comp.compress(data) + comp.flush()
crc = zlib.crc32(data) & 0xffffffff
name0 = b'Configuration/k0.bin'
local = struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, 8, 0, 0x21, crc, len(c), len(data), len(name0), 0) + name0 + c
cd = b''
for i in range(n):
    nm = b'Configuration/k%d.bin' % i
    cd += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 0x0314, 20, 0, 8, 0, 0x21, crc, len(c), len(data),
                      len(nm), 0, 0, 0, 0, 0o100644 << 16, 0) + nm
eocd = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, n, n, len(cd), len(local), 0)
open(out, 'wb').write(local + cd + eocd)
`;

beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-hostile-zip-'));
  zip = path.join(work, 'overlap.zip');
  execFileSync(PYTHON, ['-c', MAKE, zip, '3']);
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('a zip whose entries share one stream of data (overlapping zip bomb)', () => {
  it("is refused by Info-ZIP's unzip -t (the stock tool the README's users have)", () => {
    const r = spawnSync('unzip', ['-t', zip], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/overlapped components/);
  });

  // Failed before refuseOverlaps (zip-reader.ts): verify read three entries from one stream and called it good.
  it('is refused by verify (exit 3), as a damaged or hostile archive', async () => {
    const r = await runCli(['verify', zip, '--json'], { env: { EDGE_RECOVERY_PDF: 'off' } });
    expect(r.code, r.stdout.slice(-500)).toBe(3);
  });
});
