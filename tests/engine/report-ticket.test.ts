import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRecoveryError } from '../../src-main/engine/errors.js';
import { buildReport, type ReportData } from '../../src-main/engine/report/index.js';
import {
  cleanTicket,
  parseTicket,
  readRememberedTicket,
  rememberTicket,
  TICKET_FILE,
} from '../../src-main/engine/report/ticket.js';
import { parseRequest } from '../../src-main/shared/contract.js';

function refused(input: Record<string, unknown>): string {
  try {
    parseTicket(input);
  } catch (e) {
    if (isRecoveryError(e) && e.code === 'BAD_INPUT') return e.message;
    throw e;
  }
  throw new Error('accepted');
}

describe('ticket fields', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-ticket-'));
  });
  afterAll(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('trims, collapses inner spaces and leaves empty fields out', () => {
    expect(parseTicket({ number: '  INC-0042  ', site: 'Plant   4,  Hall B', technician: '   ' })).toEqual({
      number: 'INC-0042',
      site: 'Plant 4, Hall B',
    });
    expect(parseTicket({})).toEqual({});
  });

  it('refuses a control character or an over-long value, naming the field', () => {
    expect(refused({ number: 'INC-1\nSUCCEEDED' })).toMatch(/Ticket number contains a control character/);
    expect(refused({ site: 'a\tb' })).toMatch(/Site contains a control character/);
    expect(refused({ technician: 'Ann\u202eevil' })).toMatch(/Technician contains a control character/);
    expect(refused({ technician: 'x'.repeat(81) })).toMatch(/Technician is longer than 80 characters/);
    expect(refused({ number: 'x'.repeat(65) })).toMatch(/Ticket number is longer than 64/);
    expect(refused({ site: 42 })).toMatch(/Site must be text/);
    // Exactly at the limit is fine; characters, not bytes, are counted.
    expect(parseTicket({ site: 'ü'.repeat(120) }).site).toHaveLength(120);
  });

  it('the wizard boundary refuses the same things before they reach the host', () => {
    const base = { backup: '/x', profileRef: 'eds-linux' };
    expect(parseRequest('restore.start', { ...base, ticket: { number: 'INC-1', site: 'S', technician: 'T' } }).ok).toBe(
      true,
    );
    expect(parseRequest('restore.start', { ...base, ticket: { number: 'a\u0007b' } }).ok).toBe(false);
    expect(parseRequest('restore.start', { ...base, ticket: { site: 'x'.repeat(121) } }).ok).toBe(false);
    expect(parseRequest('restore.start', { ...base, ticket: { owner: 'x' } }).ok).toBe(false);
  });

  it('remembers the values in the state folder (0600) and reads them back', async () => {
    const dir = path.join(tmp, 'state');
    expect(await readRememberedTicket(dir)).toEqual({});
    await rememberTicket(dir, { number: 'INC-7', site: 'Plant 4', technician: 'A. Jones' });
    expect(await readRememberedTicket(dir)).toEqual({ number: 'INC-7', site: 'Plant 4', technician: 'A. Jones' });
    const st = await fsp.stat(path.join(dir, TICKET_FILE));
    expect(st.mode & 0o777).toBe(0o600);
    // What is remembered is what was used last: an emptied field is forgotten.
    await rememberTicket(dir, { site: 'Plant 5' });
    expect(await readRememberedTicket(dir)).toEqual({ site: 'Plant 5' });
  });

  it('reads a tampered remembered file leniently: controls removed, cut to length, a link not followed', async () => {
    const dir = path.join(tmp, 'tampered');
    await fsp.mkdir(dir);
    await fsp.writeFile(
      path.join(dir, TICKET_FILE),
      JSON.stringify({ number: 'INC\u001b[2J-9', site: 'y'.repeat(500), technician: 7, extra: 'x' }),
    );
    const t = await readRememberedTicket(dir);
    expect(t.number).toBe('INC [2J-9');
    expect(t.site).toHaveLength(120);
    expect(t).not.toHaveProperty('technician');
    expect(t).not.toHaveProperty('extra');
    const linked = path.join(tmp, 'linked');
    await fsp.mkdir(linked);
    await fsp.writeFile(path.join(tmp, 'elsewhere.json'), JSON.stringify({ number: 'FROM-A-LINK' }));
    await fsp.symlink(path.join(tmp, 'elsewhere.json'), path.join(linked, TICKET_FILE));
    expect(await readRememberedTicket(linked)).toEqual({});
    await expect(rememberTicket(linked, { number: 'X' })).rejects.toThrow();
    expect(cleanTicket('not an object')).toEqual({});
  });

  it('shows ticket, site and technician at the top of the report, escaped, and "not given" for a missing one', () => {
    const data: ReportData = {
      kind: 'restore',
      ok: true,
      toolVersion: '0.1.0',
      profile: { id: 'eds-linux', productName: 'AVEVA Edge Data Store' },
      hostname: 'edge01',
      deviceId: 'edge01-1a2b',
      sourceDeviceId: 'edge01-1a2b',
      backupPath: '/media/stick/EdgeRecovery/edge01-1a2b/Backup_eds-linux_20261121_2100Z',
      startedAt: '2026-11-21T22:10:00.000Z',
      finishedAt: '2026-11-21T22:15:30.000Z',
      versions: {},
      steps: [],
      files: 1,
      contentBytes: 1,
      ownershipCheck: { checked: 0, mismatches: [] },
      credentialsReentered: [],
      ticket: { number: 'INC<1>', site: 'Plant 4' },
      notes: [],
    };
    const { html, json } = buildReport(data);
    expect(html).toContain('<dt>Ticket number</dt><dd>INC&lt;1&gt;</dd>');
    expect(html).toContain('<dt>Site</dt><dd>Plant 4</dd>');
    expect(html).toContain('<dt>Technician</dt><dd><span class="muted">not given</span></dd>');
    // Timestamps are one unbreakable unit.
    expect(html).toContain('<span class="ts">2026-11-21 22:15:30 UTC</span>');
    expect(html).toMatch(/\.ts,td\.when\{white-space:nowrap/);
    expect(JSON.parse(json).ticket).toEqual({ number: 'INC<1>', site: 'Plant 4' });
  });
});
