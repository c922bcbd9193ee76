import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { loopMountUnavailable, skipLoopTests, withLoopMount } from '../helpers/loop-device.js';

/**
 * `practice --keep` in a sandbox off this machine's own disk (`--dir` on a stick, or the default temp folder where
 * /tmp is a tmpfs): `status --state-dir <sandbox>/state` offered "delete them with edge-recovery finish --state-dir
 * …", and finish then refused that state folder ("not on this machine's own disk … Use a folder only root can
 * change on this machine's own disk"), which a technician cannot act on for a sandbox. status now says the kept
 * folders go with the sandbox folder, and offers no finish there.
 */
describe.skipIf(skipLoopTests)(
  `a kept practice on a stick${loopMountUnavailable ? ` (skipped: ${loopMountUnavailable})` : ''}`,
  () => {
    it('status does not offer finish, which refuses the sandbox state folder, and says what to do instead', async () => {
      await withLoopMount(
        64,
        async (stick) => {
          const base = path.join(stick.mountpoint, 'practice');
          await fsp.mkdir(base);
          const env = { EDGE_RECOVERY_PDF: 'off' };
          const p = await runCli(['practice', '--yes', '--keep', '--dir', base], { env });
          expect(p.code, p.stderr).toBe(0);
          const [sandbox] = await fsp.readdir(base);
          const state = path.join(base, sandbox!, 'state');
          const s = await runCli(['status', '--state-dir', state], { env });
          expect(s.code, s.stderr).toBe(0);
          expect(s.stdout).toContain(
            "they are in the practice sandbox, whose state folder is not on this machine's own disk (a stick, a tmpfs), so edge-recovery finish refuses it: deleting the sandbox folder deletes them too.",
          );
          expect(s.stdout).not.toContain('edge-recovery finish --state-dir');
          // finish itself still refuses it (exit 4), nothing deleted.
          const f = await runCli(['finish', '--yes', '--state-dir', state], { env });
          expect(f.code, f.stderr).toBe(4);
          expect(f.stderr).toContain("is not on this machine's own disk");
          await fsp.rm(path.join(base, sandbox!), { recursive: true, force: true });
        },
        { under: '/mnt' },
      );
    }, 180_000);
  },
);
