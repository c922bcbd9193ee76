import { useId, useState } from 'react';
import type { BackupGroup, BackupSummary } from '../../src-main/shared/contract.js';
import { formatBytes, formatCount, formatDate } from '../lib/format.js';
import { GuardedButton } from './guarded-button.js';

function newestFirst(bs: readonly BackupSummary[]): BackupSummary[] {
  return [...bs].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/**
 * Backups grouped by the device they came from, newest first. This machine's own backups are offered directly;
 * another device's only after the technician switches on "This machine replaces device …" for it, which is what
 * sets allowOtherDevice. Incomplete sets are listed with the engine's reason and cannot be chosen.
 */
export function BackupPicker({
  groups,
  onChosen,
  purpose = 'restore',
}: {
  groups: readonly BackupGroup[];
  onChosen(b: BackupSummary, allowOtherDevice: boolean): void;
  /** `verify`: every device's backups are offered (checking one changes nothing), the button says "Check". */
  purpose?: 'restore' | 'verify';
}) {
  const uid = useId();
  const [selected, setSelected] = useState<string | null>(null);
  const [replaces, setReplaces] = useState<string | null>(null);
  const ordered = [...groups].sort((a, b) => Number(b.thisDevice) - Number(a.thisDevice));
  const all = ordered.flatMap((g) => g.backups.map((b) => ({ g, b })));
  const chosen = all.find((x) => x.b.path === selected) ?? null;

  if (groups.length === 0 || all.length === 0) {
    return <p className="empty">No backups were found on this stick.</p>;
  }
  return (
    <div className="backup-picker">
      {ordered.map((g) => {
        const unlocked = g.thisDevice || replaces === g.deviceId || purpose === 'verify';
        const gid = `${uid}-${g.deviceId}`;
        return (
          <fieldset key={g.deviceId} className="backup-group" data-device-id={g.deviceId}>
            <legend>
              {g.thisDevice ? 'Backups of this device' : 'Backups of another device'}: <strong>{g.hostname}</strong>{' '}
              <span className="muted small">({g.deviceId})</span>
            </legend>
            {!g.thisDevice && purpose === 'restore' ? (
              <div className="field checkbox switch">
                <input
                  id={`${gid}-replace`}
                  type="checkbox"
                  role="switch"
                  checked={replaces === g.deviceId}
                  onChange={(e) => {
                    setReplaces(e.target.checked ? g.deviceId : null);
                    if (chosen && chosen.g.deviceId === g.deviceId && !e.target.checked) setSelected(null);
                    if (chosen && !chosen.g.thisDevice && chosen.g.deviceId !== g.deviceId) setSelected(null);
                  }}
                />
                <label htmlFor={`${gid}-replace`}>
                  This machine replaces device “{g.hostname}” ({g.deviceId})
                </label>
              </div>
            ) : null}
            {unlocked ? (
              <ul className="backup-list">
                {newestFirst(g.backups).map((b) => {
                  const id = `${gid}-${b.path}`;
                  return (
                    <li key={b.path} className={b.complete ? '' : 'incomplete'}>
                      <input
                        type="radio"
                        id={id}
                        name={`${uid}-backup`}
                        checked={selected === b.path}
                        disabled={!b.complete}
                        onChange={() => setSelected(b.path)}
                        aria-describedby={`${id}-info`}
                      />
                      <label htmlFor={id}>
                        {formatDate(b.createdAt)} — {b.productName}
                        {b.productVersion ? ` ${b.productVersion}` : ''}
                      </label>
                      <div id={`${id}-info`} className="muted small">
                        {formatBytes(b.sizeBytes)}, {formatCount(b.files, 'file', 'files')}
                        {b.encrypted ? ', encrypted' : ''} · profile {b.profileId}
                        {!b.complete ? ` · cannot be restored: ${b.problem ?? 'incomplete'}` : ''}
                      </div>
                    </li>
                  );
                })}
              </ul>
            ) : (
              <p className="muted">
                {formatCount(g.backups.length, 'backup', 'backups')} hidden. Switch on the line above only if this
                machine takes over from “{g.hostname}”.
              </p>
            )}
          </fieldset>
        );
      })}
      <div className="actions">
        <GuardedButton
          why={
            chosen
              ? null
              : all.some((x) => x.b.complete)
                ? `Choose a backup in the list first${ordered.some((g) => !g.thisDevice) && purpose === 'restore' ? ' (another device’s backups show once you switch on “This machine replaces…”)' : ''}.`
                : 'None of these backups is complete, so none can be chosen.'
          }
          onClick={() => chosen && onChosen(chosen.b, !chosen.g.thisDevice)}
        >
          {purpose === 'verify' ? 'Check this backup' : 'Restore this backup'}
        </GuardedButton>
      </div>
    </div>
  );
}
