import type { ProfileSummary } from '../../src-main/shared/contract.js';
import { PracticeProductChoice } from './product-practice-screen.js';
import { useId, useState } from 'react';
import { useApi } from '../api.js';
import { ErrorPanel } from '../components/error-panel.js';
import { LastBackupNote } from '../components/last-backup.js';
import { RightsProblems, useRightsCheck } from '../components/rights-problems.js';
import { Screen } from '../components/screen.js';
import { GuardedButton } from '../components/guarded-button.js';
import { StartNotices } from '../components/start-notices.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { selectInfo, selectPractice, selectProfileRef, selectProfiles, useWizard } from '../store/wizard-store.js';

/** First screen: what was found on this machine, and the three things the wizard does. */
export function StartScreen() {
  const api = useApi();
  const uid = useId();
  const info = useWizard(selectInfo);
  const profiles = useWizard(selectProfiles);
  const profileRef = useWizard(selectProfileRef);
  const chooseProfile = useWizard((s) => s.chooseProfile);
  const setPractice = useWizard((s) => s.setPractice);
  const go = useWizard((s) => s.go);
  const [choosing, setChoosing] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);

  const detected = info?.detected ? profiles.find((p) => p.id === info.detected!.profileId) : undefined;
  const chosen = profiles.find((p) => p.ref === profileRef);
  const practiceFirst = !detected;
  const practice = useWizard(selectPractice);
  // Once the technician chose Practice, the start screen offers the two halves of the rehearsal.
  const practiceMode = practice !== null;
  // `serve --practice`: the host backs up and restores only its practice appliances. Offering "Back up this device"
  // with a list of products led through three screens to a refusal at Start.
  const practiceServer = info?.practiceOnly === true;

  const startPractice = async (kind: 'backup-plan' | 'restore-drive' = 'backup-plan') => {
    setBusy(true);
    setError(null);
    try {
      if (!practice) setPractice(await api.invoke('practice.setup', {}));
      go({ kind });
    } catch (e) {
      setError(toUiError(e));
    } finally {
      setBusy(false);
    }
  };
  // At start: can this machine do what the chosen profile needs? Said plainly, with a way to get the rights.
  const rights = useRightsCheck(practiceMode ? null : (profileRef ?? null));
  const noProfile = profileRef ? null : 'First choose the product on this machine in “Product profile” above.';
  // The host ends its practice too: while it lasts, it runs jobs only on the practice appliances.
  const leavePractice = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.invoke('practice.leave', {});
      if (r.left) setPractice(null);
      else setError({ code: 'PROFILE_UNTRUSTED', message: r.message });
    } catch (e) {
      setError(toUiError(e));
    } finally {
      setBusy(false);
    }
  };
  const real = (kind: 'backup-plan' | 'restore-drive') => {
    setPractice(null);
    go({ kind });
  };

  const practiceCard = (
    <div className="choice">
      <button
        type="button"
        className={practiceFirst ? 'primary big' : 'secondary big'}
        onClick={() => void startPractice('backup-plan')}
        disabled={busy}
      >
        Practice
      </button>
      <p>
        Rehearse a whole recovery on a simulated appliance on this computer: back up an “old” machine to a practice
        stick, then restore it onto a “replacement”. Nothing real is touched.
      </p>
      <PracticeProductChoice disabled={busy} />
    </div>
  );

  // A host in practice reads the practice stick too: offered on the next screen once this page knows the sandbox
  // (in `serve --practice` before Practice was pressed it said "No USB stick found", the practice backups unlisted).
  const verify = async () => {
    setBusy(true);
    setError(null);
    try {
      if (info?.practice === true && !practice) setPractice(await api.invoke('practice.setup', {}));
      go({ kind: 'verify-drive' });
    } catch (e) {
      setError(toUiError(e));
    } finally {
      setBusy(false);
    }
  };
  const verifyCard = (
    <div className="choice">
      <button type="button" className="secondary big" disabled={busy} onClick={() => void verify()}>
        Verify a backup
      </button>
      <p>
        Check that a backup on a stick is complete and readable: every file is read back and compared with its checksum.
        Nothing is changed.
      </p>
    </div>
  );

  if (practiceMode) {
    return (
      <Screen
        title="What do you want to do?"
        lead="Practice mode: a simulated appliance on this computer. Nothing real is touched."
      >
        <StartNotices />
        <LastBackupNote profileRef={practice.old.profileRef} label="the “old” practice machine" />
        {error ? <ErrorPanel error={error} /> : null}
        <div className="choices">
          <div className="choice">
            <button
              type="button"
              className="primary big"
              disabled={busy}
              onClick={() => void startPractice('backup-plan')}
            >
              Practice a backup
            </button>
            <p>Step 1: back up the “old” practice machine to the practice stick, exactly as on a real appliance.</p>
          </div>
          <div className="choice">
            <button
              type="button"
              className="secondary big"
              disabled={busy}
              onClick={() => void startPractice('restore-drive')}
            >
              Practice a restore
            </button>
            <p>Step 2: restore a backup from the practice stick onto the “replacement” practice machine.</p>
          </div>
          {verifyCard}
          <div className="choice">
            <button type="button" className="secondary big" disabled={busy} onClick={() => void leavePractice()}>
              Leave practice
            </button>
            <p>Back to backing up or restoring this device for real.</p>
          </div>
        </div>
        <PracticeProductChoice disabled={busy} />
      </Screen>
    );
  }

  return (
    <Screen title="What do you want to do?">
      <StartNotices />
      <section className="found" aria-labelledby={`${uid}-found`}>
        <h2 id={`${uid}-found`}>On this machine</h2>
        {practiceServer ? (
          <p>
            <strong>This wizard was started for practice</strong>: it backs up and restores only practice stand-ins on
            this computer, never this machine’s product. Start with Practice below. To back up or restore this device,
            stop this wizard where it was started and start it again without practice mode.
          </p>
        ) : detected ? (
          <p>
            Found <strong>{detected.productName}</strong> (profile <code>{detected.id}</code>).{' '}
            <span className="muted">{info?.detected?.reason}</span>
          </p>
        ) : (
          <p>
            <strong>No supported product was found on this machine</strong>, so there is nothing here to back up. If
            this is a new machine waiting for a restore, choose its product profile below. To learn the steps first,
            start with Practice.
          </p>
        )}
        {chosen && chosen !== detected ? (
          <p>
            Working with profile <strong>{chosen.productName}</strong> (<code>{chosen.id}</code>).
          </p>
        ) : null}
        {practiceServer ? null : choosing || !detected ? (
          <div className="field">
            <label htmlFor={`${uid}-profile`}>Product profile</label>
            <select id={`${uid}-profile`} value={profileRef ?? ''} onChange={(e) => chooseProfile(e.target.value)}>
              <option value="" disabled>
                Choose the product on this machine…
              </option>
              {profiles.map((p) => (
                <option key={p.ref} value={p.ref}>
                  {optionLabel(p, profiles)}
                </option>
              ))}
            </select>
          </div>
        ) : (
          <button type="button" className="link" onClick={() => setChoosing(true)}>
            Choose another product profile
          </button>
        )}
        <p className="muted small">
          {info ? `${info.hostname} · device ${info.deviceId} · wizard ${info.version}` : null}
          {info && !info.elevated ? ' · not running as root/Administrator' : null}
        </p>
        {detected || chosen ? (
          <LastBackupNote profileRef={profileRef ?? null} label="this device" productHere={detected !== undefined} />
        ) : null}
        {rights ? (
          <RightsProblems
            problems={rights.problems}
            canElevate={rights.canElevate}
            title="Before you start: this machine is missing something"
          />
        ) : null}
      </section>
      {error ? <ErrorPanel error={error} /> : null}
      <div className="choices">
        {practiceFirst || practiceServer ? practiceCard : null}
        {practiceServer ? null : (
          <>
            <div className="choice">
              <div>
                <GuardedButton
                  className={practiceFirst ? 'secondary big' : 'primary big'}
                  why={noProfile}
                  onClick={() => real('backup-plan')}
                >
                  Back up this device
                </GuardedButton>
              </div>
              <p>Copy the product’s settings and data to a USB stick, checked and optionally encrypted.</p>
            </div>
            <div className="choice">
              <div>
                <GuardedButton className="secondary big" why={noProfile} onClick={() => real('restore-drive')}>
                  Restore onto this device
                </GuardedButton>
              </div>
              <p>Put a backup from a USB stick onto this machine, step by step, with a way back at every step.</p>
            </div>
          </>
        )}
        {verifyCard}
        {practiceFirst || practiceServer ? null : practiceCard}
      </div>
    </Screen>
  );
}

/**
 * A profile's line in the list; two that read the same (two files of one product id in the profiles folder) also
 * name their file, so the technician can tell which one is chosen.
 */
function optionLabel(p: ProfileSummary, all: ProfileSummary[]): string {
  const label = (x: ProfileSummary) => `${x.productName} — ${x.platform} (${x.id})`;
  const same = all.filter((x) => label(x) === label(p)).length > 1;
  return same && p.ref !== p.id ? `${label(p)}: ${p.ref}` : label(p);
}
