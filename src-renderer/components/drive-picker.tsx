import { useCallback, useEffect, useId, useState } from 'react';
import type { DriveView } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { formatBytes } from '../lib/format.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import type { Target } from '../store/wizard-store.js';
import { ErrorPanel } from './error-panel.js';
import { GuardedButton } from './guarded-button.js';

export function driveName(d: DriveView): string {
  return d.label ?? d.mountpoints.find((m) => m.label)?.label ?? d.description ?? d.device;
}

function targetOf(d: DriveView): Target | null {
  const m = d.mountpoints[0];
  if (!m) return null;
  return { path: m.path, label: driveName(d), sizeBytes: d.sizeBytes, device: d.device };
}

/**
 * Choosing the USB stick, with balenaEtcher's lessons: nothing is selected until the technician picks it;
 * drives the engine hid are listed only on request, each with the engine's reasons; before writing, the label and
 * size are shown once more to confirm. The engine decides which drives are safe; this only displays its verdict.
 */
export function DrivePicker({
  purpose,
  onChosen,
  extra,
  minFreeBytes,
}: {
  purpose: 'write' | 'read';
  onChosen(t: Target): void;
  /** A target offered before the drives (the practice stick folder). */
  extra?: Target;
  minFreeBytes?: number;
}) {
  const api = useApi();
  const uid = useId();
  const [drives, setDrives] = useState<DriveView[] | null>(null);
  const [hidden, setHidden] = useState<DriveView[] | null>(null);
  const [showHidden, setShowHidden] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<Target | null>(null);
  const [error, setError] = useState<UiError | null>(null);

  const input = minFreeBytes === undefined ? { all: false } : { all: false, minFreeBytes };
  const inputKey = JSON.stringify(input);

  const loadHidden = useCallback(async () => {
    setHidden(null);
    try {
      const all = await api.invoke('drives.list', { ...(JSON.parse(inputKey) as typeof input), all: true });
      setHidden(all.filter((d) => d.status === 'hidden'));
    } catch (e) {
      setError(toUiError(e));
    }
  }, [api, inputKey]);

  const load = useCallback(async () => {
    setError(null);
    setSelected(null);
    setConfirming(null);
    try {
      const list = await api.invoke('drives.list', JSON.parse(inputKey) as typeof input);
      setDrives(list.filter((d) => d.status !== 'hidden'));
    } catch (e) {
      setError(toUiError(e));
    }
  }, [api, inputKey]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (showHidden) void loadHidden();
  }, [showHidden, loadHidden]);

  const visible = (drives ?? []).filter((d) => !extra || d.mountpoints.every((m) => m.path !== extra.path));
  const options: { key: string; target: Target | null; drive: DriveView | null }[] = [
    ...(extra ? [{ key: `extra:${extra.path}`, target: extra, drive: null }] : []),
    ...visible.map((d) => ({ key: d.device, target: targetOf(d), drive: d })),
  ];
  const chosen = options.find((o) => o.key === selected)?.target ?? null;

  if (confirming) {
    return (
      <section className="drive-confirm" aria-labelledby={`${uid}-confirm`}>
        <h3 id={`${uid}-confirm`} tabIndex={-1} ref={(el) => el?.focus()}>
          Is this the right stick?
        </h3>
        <dl className="facts">
          <div>
            <dt>Name</dt>
            <dd data-testid="confirm-label">{confirming.label}</dd>
          </div>
          <div>
            <dt>Size</dt>
            <dd data-testid="confirm-size">{formatBytes(confirming.sizeBytes)}</dd>
          </div>
          <div>
            <dt>Device</dt>
            <dd>{confirming.device}</dd>
          </div>
          <div>
            <dt>Folder written to</dt>
            <dd>
              <code>{confirming.path}</code>
            </dd>
          </div>
        </dl>
        <p>The backup is added next to what is already on the stick; nothing on it is erased.</p>
        <div className="actions">
          <button type="button" className="primary" onClick={() => onChosen(confirming)}>
            Yes, write the backup to “{confirming.label}”
          </button>
          <button type="button" className="secondary" onClick={() => setConfirming(null)}>
            No, choose again
          </button>
        </div>
      </section>
    );
  }

  return (
    <section className="drive-picker" aria-labelledby={`${uid}-legend`}>
      {error ? (
        <ErrorPanel error={error}>
          <button type="button" className="secondary" onClick={() => void load()}>
            Look again
          </button>
        </ErrorPanel>
      ) : null}
      <fieldset>
        <legend id={`${uid}-legend`}>{purpose === 'write' ? 'Write the backup to' : 'Read backups from'}</legend>
        {drives === null && !error ? <p className="muted">Looking for USB sticks…</p> : null}
        {drives !== null && options.length === 0 ? (
          <p className="empty">No USB stick found. Plug one in, then press “Look again”.</p>
        ) : null}
        <ul className="drive-list">
          {options.map((o) => {
            const id = `${uid}-${o.key}`;
            const d = o.drive;
            const disabled = o.target === null;
            return (
              <li key={o.key} className={`drive ${d?.status === 'warning' ? 'warning' : ''}`}>
                <input
                  type="radio"
                  id={id}
                  name={`${uid}-drive`}
                  value={o.key}
                  checked={selected === o.key}
                  disabled={disabled}
                  onChange={() => setSelected(o.key)}
                  aria-describedby={`${id}-info`}
                />
                <label htmlFor={id}>
                  <span className="drive-name">{d ? driveName(d) : o.target!.label}</span>
                  <span className="drive-size">{formatBytes(d ? d.sizeBytes : o.target!.sizeBytes)}</span>
                </label>
                <div id={`${id}-info`} className="drive-info">
                  <span>{d ? `${d.description} · ${d.device}` : o.target!.path}</span>
                  {d?.mountpoints[0] ? (
                    <span>
                      {' '}
                      · free {formatBytes(d.mountpoints[0].freeBytes)} · {d.mountpoints[0].fsType ?? 'unknown format'}
                    </span>
                  ) : null}
                  {disabled ? <span className="reason"> · Not mounted: the wizard cannot reach its files.</span> : null}
                  {d && d.reasons.length > 0 ? (
                    <ul className="reasons">
                      {d.reasons.map((r) => (
                        <li key={r.code}>{r.message}</li>
                      ))}
                    </ul>
                  ) : null}
                </div>
              </li>
            );
          })}
        </ul>
      </fieldset>
      <div className="row">
        <button
          type="button"
          className="secondary"
          onClick={() => {
            void load();
            if (showHidden) void loadHidden();
          }}
        >
          Look again
        </button>
        <button
          type="button"
          className="secondary"
          aria-expanded={showHidden}
          aria-controls={`${uid}-hidden`}
          onClick={() => {
            setShowHidden((v) => !v);
          }}
        >
          {showHidden ? 'Hide the drives not offered' : 'Why is my drive not listed?'}
        </button>
      </div>
      <div id={`${uid}-hidden`} hidden={!showHidden}>
        {showHidden ? (
          <section className="hidden-drives" aria-label="Drives not offered">
            <h3>Drives not offered, and why</h3>
            {hidden === null ? <p className="muted">Looking…</p> : null}
            {hidden !== null && hidden.length === 0 ? <p>No other drives were found.</p> : null}
            <ul>
              {(hidden ?? []).map((d) => (
                <li key={d.device} data-device={d.device}>
                  <strong>{driveName(d)}</strong> ({formatBytes(d.sizeBytes)}, {d.device})
                  <ul className="reasons">
                    {d.reasons.map((r) => (
                      <li key={r.code}>{r.message}</li>
                    ))}
                  </ul>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
      </div>
      <div className="actions">
        <GuardedButton
          why={
            chosen !== null
              ? null
              : options.length === 0
                ? 'No stick to choose yet: plug one in, then press “Look again”.'
                : 'Choose a stick in the list first.'
          }
          onClick={() => {
            if (!chosen) return;
            if (purpose === 'write') setConfirming(chosen);
            else onChosen(chosen);
          }}
        >
          {purpose === 'write' ? 'Use this stick' : 'Look for backups on this stick'}
        </GuardedButton>
      </div>
    </section>
  );
}
