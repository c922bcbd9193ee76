import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium } from '../../src-main/engine/report/chromium-pdf.js';
import { cliCommand, runCli } from '../helpers/cli.js';
import { Terminal, tmuxSkipReason } from '../helpers/tmux.js';

/** The backup reports on the stick (device folder), newest last. */
async function stickReports(stick: string, ext: string): Promise<string[]> {
  const dir = path.join(stick, 'EdgeRecovery', 'cli-box');
  return (await fsp.readdir(dir).catch(() => [] as string[]))
    .filter((n) => n.startsWith('report-backup-') && n.endsWith(ext))
    .sort()
    .map((n) => path.join(dir, n));
}

describe('edge-recovery backup: ticket fields on the report, remembered; where the report went', () => {
  let work: string;
  let stick: string;
  let stateDir: string;
  let profile: string;
  const open: Terminal[] = [];

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-report-cli-'));
    const data = path.join(work, 'machine', 'Data');
    await fsp.mkdir(data, { recursive: true });
    await fsp.writeFile(path.join(data, 'settings.json'), '{"a":1}\n');
    stick = path.join(work, 'stick');
    stateDir = path.join(work, 'state');
    await fsp.mkdir(stick);
    // No service manager: --yes says the technician stopped and started it by hand.
    profile = path.join(work, 'profile.json');
    await fsp.writeFile(
      profile,
      JSON.stringify({
        schemaVersion: 1,
        id: 'report-cli-test',
        productName: 'Report test product',
        platform: 'linux',
        service: { manager: 'none', name: 'report-cli-test', stopTimeoutSeconds: 5, startTimeoutSeconds: 5 },
        items: [{ id: 'Data', path: data, required: true }],
        ownership: { user: 'root', group: 'root', dirMode: '755', fileMode: '644' },
        credentials: [],
        prechecks: [],
        version: { policy: 'any', significantParts: 3 },
      }),
    );
  });
  afterAll(async () => {
    for (const t of open) t.close();
    await fsp.rm(work, { recursive: true, force: true });
  });

  const backup = (extra: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(
      [
        'backup',
        '--profile',
        profile,
        '--allow-profile-commands',
        '--to',
        stick,
        '--device-id',
        'cli-box',
        '--state-dir',
        stateDir,
        ...extra,
      ],
      { env },
    );

  it('refuses a ticket field with a control character before anything starts (exit 2)', async () => {
    const r = await backup(['--yes', '--technician', 'Ana\tLima']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Technician contains a control character/);
    expect(await stickReports(stick, '.json')).toEqual([]);
    const tooLong = await backup(['--yes', '--ticket', 'x'.repeat(65)]);
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/Ticket number is longer than 64 characters/);
  });

  it('puts --ticket/--site/--technician on the backup report, remembers them, and says where the report went', async () => {
    const r = await backup(['--yes', '--ticket', 'INC-9', '--site', 'Plant 4', '--technician', 'Ana Lima']);
    expect(r.code, r.stderr).toBe(0);
    const [json] = await stickReports(stick, '.json');
    const rep = JSON.parse(await fsp.readFile(json!, 'utf8'));
    expect(rep.kind).toBe('backup');
    expect(rep.ticket).toEqual({ number: 'INC-9', site: 'Plant 4', technician: 'Ana Lima' });
    expect(rep.deviceId).toBe('cli-box');
    expect((await fsp.stat(json!)).mode & 0o777).toBe(0o600);
    // The stick's copy and this machine's, told apart.
    expect(r.stdout).toContain(`Report saved:\n  on the stick: ${path.dirname(json!)}\n`);
    expect(r.stdout).toContain(`  on this machine: ${path.join(stateDir, 'reports')}\n`);
    expect(r.stdout).toMatch(/No PDF was made here: open the HTML report in a browser and use Print → Save as PDF/);
    expect(JSON.parse(await fsp.readFile(path.join(stateDir, 'ticket.json'), 'utf8'))).toEqual(rep.ticket);
  });

  it.skipIf(findChromium() === null)(
    'the next backup carries the remembered values, one flag changed, and a PDF beside the HTML',
    async () => {
      const before = await stickReports(stick, '.json');
      const r = await backup(['--yes', '--ticket', 'INC-10'], { EDGE_RECOVERY_PDF: 'on' });
      expect(r.code, r.stderr).toBe(0);
      // This backup's report: the one not there before (not the last by name: a report finished in the same second
      // as the previous one is named <stamp>-2, which sorts before <stamp>.json; CI failed on that once).
      const added = (await stickReports(stick, '.json')).filter((j) => !before.includes(j));
      expect(added).toHaveLength(1);
      const rep = JSON.parse(await fsp.readFile(added[0]!, 'utf8'));
      expect(rep.ticket).toEqual({ number: 'INC-10', site: 'Plant 4', technician: 'Ana Lima' });
      const pdf = added[0]!.replace(/\.json$/, '.pdf');
      expect((await fsp.readFile(pdf)).subarray(0, 5).toString()).toBe('%PDF-');
      expect(r.stdout).toContain(`    ${path.basename(pdf)}\n`);
    },
    300_000,
  );

  it.skipIf(tmuxSkipReason() !== null)(
    'in a terminal, asks each field once with the remembered value as default ("-" clears it)',
    async () => {
      const t = new Terminal(
        [
          process.execPath,
          ...cliCommand(),
          'backup',
          '--profile',
          profile,
          '--allow-profile-commands',
          '--to',
          stick,
          '--device-id',
          'cli-box',
          '--state-dir',
          stateDir,
          '--site',
          'Plant 5',
        ],
        { EDGE_RECOVERY_PDF: 'off' },
      );
      open.push(t);
      await t.waitFor(/Ticket number \[INC-\d+\]:/);
      t.type('INC-11');
      // --site was given: not asked.
      await t.waitFor(/Technician \[Ana Lima\]:/);
      t.type('-');
      // Then the backup's own questions (no service manager: the stop and the start are confirmed by hand).
      let screen = '';
      for (let answered = 0; !/on this machine: /.test(screen); ) {
        screen = await t.waitFor(/Type "yes" to go ahead|on this machine: /, 1);
        const asked = screen.match(/Type "yes" to go ahead/g)?.length ?? 0;
        if (asked > answered) {
          t.type('yes');
          answered = asked;
        }
        await new Promise((r) => setTimeout(r, 200));
        screen = t.screen();
      }
      expect(screen).not.toMatch(/Site \[/);
      expect(await t.exitCode()).toBe(0);
      const jsons = await stickReports(stick, '.json');
      const rep = JSON.parse(await fsp.readFile(jsons.at(-1)!, 'utf8'));
      expect(rep.ticket).toEqual({ number: 'INC-11', site: 'Plant 5' });
    },
    300_000,
  );
});
