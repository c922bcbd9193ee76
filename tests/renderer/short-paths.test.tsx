import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ConfirmPrompt } from '../../src-renderer/components/confirm-prompt.js';
import { shortenPaths } from '../../src-renderer/lib/short-paths.js';

/**
 * The wizard shows each path by its last name. The restore's staging copy is `<parent>/.edge-recovery-<job>/<item>`,
 * so by its last name it looked like the product's folder in use: the swap's question listed
 * "…/Configuration → …/Configuration", and the rollback's "…/Configuration → deleted (if present)", which reads as
 * "the folder in use is deleted" when only the staging copy is. A folder in a hidden work folder keeps that parent.
 */
const root = '/usr/share/OSIsoft/EdgeDataStore';
const staging = `${root}/.edge-recovery-20261201T053130-3cfd1104/Configuration`;

describe('short paths', () => {
  it('tells the staging copy from the folder in use', () => {
    expect(shortenPaths(`${staging} → ${root}/Configuration`)).toBe(
      '…/.edge-recovery-20261201T053130-3cfd1104/Configuration → …/Configuration',
    );
    expect(shortenPaths(`${root}/Configuration → ${root}/Configuration.before-restore-20261201T053046Z-7f2d609c`)).toBe(
      '…/Configuration → …/Configuration.before-restore-20261201T053046Z-7f2d609c',
    );
  });

  it('the rollback question does not say the folder in use is deleted', () => {
    render(
      <ConfirmPrompt
        request={{
          stepId: 'rollback-folders',
          title: 'Put the earlier folders back',
          message: 'The restore never set a folder aside.',
          details: [`${staging} → deleted (if present)`],
          action: 'Roll back',
        }}
        onAnswer={() => undefined}
      />,
    );
    const item = screen.getByRole('listitem');
    expect(item.textContent).toBe('…/.edge-recovery-20261201T053130-3cfd1104/Configuration → deleted (if present)');
    expect(item.textContent).not.toMatch(/^…\/Configuration/);
  });
});
