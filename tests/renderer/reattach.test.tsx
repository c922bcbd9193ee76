import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { resetWizard } from '../../src-renderer/store/wizard-store.js';
import type { AppInfo, JobKind } from '../../src-main/shared/contract.js';
import { fakeApi } from './fake-api.js';

const INFO: AppInfo = {
  version: '0.1.0',
  platform: 'linux',
  elevated: true,
  practice: false,
  shell: 'browser',
  detected: null,
  hostname: 'edge-07',
  deviceId: 'edge-07-1a2b3c4d',
};

function withRunning(kind: JobKind) {
  return fakeApi({
    'app.info': () => INFO,
    'profiles.list': () => [],
    'restore.status': () => null,
    'job.running': () => [
      { jobId: 'job-0123456789', kind, startedAt: '2026-11-29T10:00:00.000Z', changesMachine: false, pending: null },
    ],
    'job.events': () => ({ events: [], done: false, pending: null }),
  });
}

describe('re-attaching after a reload', () => {
  it('a running copy of backups to a stick comes back on its own screen, not the verify screen', async () => {
    resetWizard();
    render(<App api={withRunning('mirror').api} />);
    expect(await screen.findByRole('heading', { level: 1, name: 'Copying backups to the stick' })).toBeTruthy();
  });

  it('a running check of a backup comes back on the verify screen', async () => {
    resetWizard();
    render(<App api={withRunning('verify').api} />);
    expect(await screen.findByRole('heading', { level: 1, name: 'Verifying a backup' })).toBeTruthy();
  });
});
