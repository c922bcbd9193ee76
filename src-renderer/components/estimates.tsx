import { useEffect, useState } from 'react';
import type { DriveView, ProfilePlan } from '../../src-main/shared/contract.js';
import { ASSUMED_RATES, planEstimate, type WorkSize } from '../../src-main/shared/estimate.js';
import { useApi } from '../api.js';
import { formatBytes, formatDuration, formatRate } from '../lib/format.js';
import { driveName } from './drive-picker.js';

/** How long the job takes and how long the service is down, said to be an estimate and what it rests on. */
export function TimeEstimate({ kind, work }: { kind: 'backup' | 'restore'; work: WorkSize }) {
  const e = planEstimate(kind, work);
  const rate = kind === 'backup' ? ASSUMED_RATES.archive : ASSUMED_RATES.extract;
  return (
    <p className="estimate" data-testid="time-estimate">
      <strong>Time, estimated:</strong> the whole {kind} takes about {formatDuration(e.totalSeconds)}; the service is
      stopped for about <strong data-testid="downtime">{formatDuration(e.downtimeSeconds)}</strong>.{' '}
      <span className="muted small">
        An estimate from {formatBytes(work.bytes)} in {work.files.toLocaleString('en-US')} files at an assumed{' '}
        {formatRate(rate.bytesPerSecond)} for {kind === 'backup' ? 'packing' : 'unpacking'}; the real speed shows once
        it runs.
      </span>
    </p>
  );
}

/**
 * The space the backup needs against every stick plugged in now: enough or not, for each. In practice the
 * "stick" is a folder on this computer and is listed first.
 */
export function StickSpace({ needBytes, practiceStick }: { needBytes: number; practiceStick: string | null }) {
  const api = useApi();
  const [drives, setDrives] = useState<DriveView[] | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    api.invoke('drives.list', { all: false, minFreeBytes: needBytes }).then(
      (d) => live && setDrives(d.filter((x) => x.status !== 'hidden')),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [api, needBytes]);
  return (
    <section className="stick-space" aria-labelledby="stick-space-title">
      <h2 id="stick-space-title">Space on the stick</h2>
      <p>
        The backup needs up to <strong data-testid="need-bytes">{formatBytes(needBytes)}</strong> on the stick (less
        when the data compresses).
      </p>
      {failed ? <p className="muted">The sticks could not be listed; the next screen looks again.</p> : null}
      {drives === null && !failed ? <p className="muted">Looking for USB sticks…</p> : null}
      {drives !== null ? (
        drives.length === 0 && !practiceStick ? (
          <p className="muted">No USB stick is plugged in yet. Plug one in; the next screen lists it.</p>
        ) : (
          <table className="space-table">
            <caption className="visually-hidden">Free space on each stick</caption>
            <thead>
              <tr>
                <th scope="col">Stick</th>
                <th scope="col">Free</th>
                <th scope="col">Enough?</th>
              </tr>
            </thead>
            <tbody>
              {practiceStick ? (
                <tr>
                  <th scope="row">Practice stick (a folder on this computer)</th>
                  <td>the computer’s disk</td>
                  <td>—</td>
                </tr>
              ) : null}
              {drives.map((d) => {
                const free = freeOf(d);
                const ok = free === null ? null : free >= needBytes;
                return (
                  <tr key={d.device} data-device={d.device}>
                    <th scope="row">
                      {driveName(d)} <span className="muted small">({d.device})</span>
                    </th>
                    <td>{free === null ? 'not mounted' : formatBytes(free)}</td>
                    <td>
                      {ok === null ? (
                        <span className="muted">unknown</span>
                      ) : ok ? (
                        <span className="space-ok">✓ enough</span>
                      ) : (
                        <span className="space-short">✕ not enough ({formatBytes(needBytes - free!)} short)</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )
      ) : null}
    </section>
  );
}

function freeOf(d: DriveView): number | null {
  const frees = d.mountpoints.map((m) => m.freeBytes).filter((f): f is number => f !== null);
  return frees.length > 0 ? Math.max(...frees) : null;
}

/** Free space on this machine where the restore writes (beside each folder) against what the backup holds. */
export function MachineSpace({ space, needBytes }: { space: ProfilePlan['space']; needBytes: number | null }) {
  if (space.length === 0) return null;
  return (
    <section className="machine-space" aria-labelledby="machine-space-title">
      <h2 id="machine-space-title">Space on this machine</h2>
      <p>
        The restore unpacks the backup beside the current folders first, so this machine needs about{' '}
        <strong data-testid="need-bytes">{needBytes === null ? 'the size of the data' : formatBytes(needBytes)}</strong>{' '}
        free there (the current folders are only set aside, not copied).
      </p>
      <table className="space-table">
        <caption className="visually-hidden">Free space on this machine</caption>
        <thead>
          <tr>
            <th scope="col">Disk</th>
            <th scope="col">Folders</th>
            <th scope="col">Free</th>
            <th scope="col">Enough?</th>
          </tr>
        </thead>
        <tbody>
          {space.map((l) => {
            const ok = l.freeBytes === null || needBytes === null ? null : l.freeBytes >= needBytes;
            return (
              <tr key={l.path}>
                <th scope="row">
                  <code>{l.path}</code>
                </th>
                <td>{l.itemIds.join(', ')}</td>
                <td>{formatBytes(l.freeBytes)}</td>
                <td>
                  {ok === null ? (
                    <span className="muted">unknown</span>
                  ) : ok ? (
                    <span className="space-ok">✓ enough</span>
                  ) : (
                    <span className="space-short">✕ not enough</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
