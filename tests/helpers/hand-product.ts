import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli, type CliResult } from './cli.js';

/**
 * A product stopped and started by hand (service manager "none"), with no API: only folders, at
 * /opt/hand/<item> (under the tests' --root). `owner`: the ownership policy (755 folders, 644 files).
 */
export function handProfile(opts: { items?: string[]; owner?: string } = {}): Record<string, unknown> {
  const items = opts.items ?? ['Configuration', 'Storage'];
  return {
    schemaVersion: 1,
    id: 'hand',
    productName: 'Hand-run product',
    platform: 'linux',
    service: { manager: 'none', name: 'hand' },
    items: items.map((id) => ({ id, path: `/opt/hand/${id}`, required: true })),
    ...(opts.owner !== undefined
      ? { ownership: { user: opts.owner, group: opts.owner, dirMode: '755', fileMode: '644', exceptions: [] } }
      : {}),
    version: { policy: 'any' },
  };
}

/**
 * A backup of the hand product (its Configuration folder under `<base>/root`, holding `file`) made by the CLI into
 * `to`, as device hand-box, with its own state folder under `base`: a set for the mirror and page-path tests.
 */
export async function handBackupInto(
  base: string,
  to: string,
  file: { name: string; data: string | Buffer },
  stateDir = path.join(base, 'state-backup'),
): Promise<CliResult> {
  const root = path.join(base, 'root');
  await fsp.mkdir(path.join(root, 'opt/hand/Configuration'), { recursive: true });
  await fsp.writeFile(path.join(root, 'opt/hand/Configuration', file.name), file.data);
  const profile = path.join(base, 'hand.json');
  await fsp.writeFile(profile, JSON.stringify(handProfile({ items: ['Configuration'] })));
  return runCli([
    'backup',
    '--profile',
    profile,
    '--root',
    root,
    '--to',
    to,
    '--device-id',
    'hand-box',
    '--state-dir',
    stateDir,
    '--yes',
    // The profile is this test's own file in a temporary folder: untrusted input, used on purpose.
    '--allow-profile-commands',
  ]);
}
