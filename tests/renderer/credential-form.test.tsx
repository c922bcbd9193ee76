import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { CredentialsRequest } from '../../src-main/shared/contract.js';
import { CredentialForm } from '../../src-renderer/components/credential-form.js';

const request: CredentialsRequest = {
  stepId: 'credentials',
  entries: [
    {
      key: 'egress/ToCloud',
      resourceId: 'egress',
      resourceTitle: 'Periodic egress endpoints',
      entryId: 'ToCloud',
      entryName: 'ToCloud',
      fields: [
        { name: 'ClientId', label: 'Client ID', secret: false, value: 'client-42' },
        { name: 'ClientSecret', label: 'Client secret', secret: true },
      ],
    },
    {
      key: 'egress/ToPI',
      resourceId: 'egress',
      resourceTitle: 'Periodic egress endpoints',
      entryId: 'ToPI',
      entryName: 'ToPI',
      fields: [
        { name: 'Username', label: 'User name', secret: false, value: 'piuser' },
        { name: 'Password', label: 'Password', secret: true },
      ],
    },
  ],
};

describe('CredentialForm', () => {
  it('shows one labelled field set per entry, with the account it belongs to', () => {
    render(<CredentialForm request={request} onSubmit={() => {}} />);
    const sets = screen.getAllByRole('group');
    expect(sets).toHaveLength(2);
    expect(within(sets[0]!).getByText('ToCloud')).toBeTruthy();
    expect((within(sets[0]!).getByLabelText('Client ID') as HTMLInputElement).value).toBe('client-42');
    expect((within(sets[1]!).getByLabelText('User name') as HTMLInputElement).value).toBe('piuser');
    for (const input of screen.getAllByRole('textbox')) expect(input.id).not.toBe('');
  });

  it('masks secret fields and shows one only while its own switch is on', async () => {
    render(<CredentialForm request={request} onSubmit={() => {}} />);
    const secret = screen.getByLabelText('Client secret') as HTMLInputElement;
    const password = screen.getByLabelText('Password') as HTMLInputElement;
    expect(secret.type).toBe('password');
    expect(password.type).toBe('password');
    const show = screen.getByRole('button', { name: 'Show Client secret for ToCloud' });
    expect(show.getAttribute('aria-pressed')).toBe('false');
    await userEvent.click(show);
    expect(secret.type).toBe('text');
    expect(password.type).toBe('password');
    await userEvent.click(screen.getByRole('button', { name: 'Hide Client secret for ToCloud' }));
    expect(secret.type).toBe('password');
  });

  it('submits every entry’s values keyed by entry and field', async () => {
    const onSubmit = vi.fn();
    render(<CredentialForm request={request} onSubmit={onSubmit} />);
    await userEvent.type(screen.getByLabelText('Client secret'), 's3cret!');
    await userEvent.type(screen.getByLabelText('Password'), 'pa55');
    await userEvent.click(screen.getByRole('button', { name: 'Send to the appliance' }));
    expect(onSubmit).toHaveBeenCalledWith({
      'egress/ToCloud': { ClientId: 'client-42', ClientSecret: 's3cret!' },
      'egress/ToPI': { Username: 'piuser', Password: 'pa55' },
    });
    // The secrets are dropped from the form once handed over.
    expect((screen.getByLabelText('Client secret') as HTMLInputElement).value).toBe('');
  });

  it('does not submit while a secret is empty, and says which one', async () => {
    const onSubmit = vi.fn();
    render(<CredentialForm request={request} onSubmit={onSubmit} />);
    await userEvent.type(screen.getByLabelText('Client secret'), 'x');
    await userEvent.click(screen.getByRole('button', { name: 'Send to the appliance' }));
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByRole('alert').textContent).toContain('Password for Periodic egress endpoints: ToPI');
    expect(document.activeElement).toBe(screen.getByLabelText('Password'));
  });

  it('can be skipped, which answers with no values', async () => {
    const onSubmit = vi.fn();
    render(<CredentialForm request={request} onSubmit={onSubmit} />);
    await userEvent.click(screen.getByRole('button', { name: /Skip/ }));
    expect(onSubmit).toHaveBeenCalledWith(null);
  });
});
