import { useState } from 'react';
import type { ProfileSummary } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { ErrorPanel } from '../components/error-panel.js';
import { RunbookPanel } from '../components/runbook-panel.js';
import { Screen } from '../components/screen.js';
import { restoreReport } from '../lib/runbook-view.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { selectProfiles, useWizard } from '../store/wizard-store.js';

type ProductStep = NonNullable<ProfileSummary['productSteps']>[number];

/** A product's own procedure, as its profile declares it: each step with its title and explanation. */
export function ProductStepsPlan({ steps, side }: { steps: readonly ProductStep[]; side: 'backup' | 'restore' }) {
  const mine = steps.filter((s) => s.at.startsWith(`${side}.`));
  if (mine.length === 0) return <p className="muted">The product has no steps of its own here.</p>;
  return (
    <ol className="product-steps" aria-label={`The product's own ${side} steps`}>
      {mine.map((s) => (
        <li key={s.id} className="product-step" data-step-id={s.id} data-kind={s.kind}>
          <strong>{s.title}</strong>{' '}
          <span className="muted">
            ({s.when}
            {s.destructive ? '; asks first' : ''})
          </span>
          <p className="explain">{s.explain}</p>
        </li>
      ))}
    </ol>
  );
}

/** The products the wizard can rehearse on a stand-in, besides Edge Data Store's practice appliance. */
export function PracticeProductChoice({ disabled }: { disabled: boolean }) {
  const profiles = useWizard(selectProfiles).filter((p) => p.practice === true);
  const go = useWizard((s) => s.go);
  if (profiles.length === 0) return null;
  return (
    <div className="practice-products" role="group" aria-label="Practise another product">
      <p>Or rehearse another product’s own procedure on its stand-in:</p>
      <ul>
        {profiles.map((p) => (
          <li key={p.id}>
            <button
              type="button"
              className="secondary"
              disabled={disabled}
              onClick={() => go({ kind: 'product-practice', profileId: p.id })}
            >
              Practice: {p.productName}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The plan of a product's practice: its own steps for the backup and the restore, then Start. */
export function ProductPracticeScreen({ profileId }: { profileId: string }) {
  const profile = useWizard(selectProfiles).find((p) => p.id === profileId);
  const go = useWizard((s) => s.go);
  const api = useApi();
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);
  if (!profile) {
    return (
      <Screen title="Practice">
        <p>There is no practice for “{profileId}”.</p>
        <button type="button" className="primary" onClick={() => go({ kind: 'start' })}>
          Back to start
        </button>
      </Screen>
    );
  }
  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      const { jobId } = await api.invoke('practice.product', { profileId });
      go({ kind: 'product-practice-run', jobId });
    } catch (e) {
      setError(toUiError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Screen
      title={`Practice: ${profile.productName}`}
      lead="A stand-in of the product runs on this computer: an “old” machine and a “replacement”, and a folder as the stick. Nothing real is touched."
    >
      {profile.description ? <p>{profile.description}</p> : null}
      {error ? <ErrorPanel error={error} /> : null}
      <div className="plan-columns">
        <section aria-labelledby="pp-backup">
          <h2 id="pp-backup">Backup of the “old” machine</h2>
          <ProductStepsPlan steps={profile.productSteps ?? []} side="backup" />
        </section>
        <section aria-labelledby="pp-restore">
          <h2 id="pp-restore">Restore onto the “replacement”</h2>
          <ProductStepsPlan steps={profile.productSteps ?? []} side="restore" />
        </section>
      </div>
      <div className="actions">
        <button type="button" className="primary" disabled={busy} onClick={() => void start()}>
          Start the practice
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={() => go({ kind: 'start' })}>
          Back
        </button>
      </div>
    </Screen>
  );
}

/** The practice running: first the backup's checklist, then the restore's, each with the product's own steps. */
export function ProductPracticeRunScreen({ jobId }: { jobId: string }) {
  const go = useWizard((s) => s.go);
  return (
    <Screen title="Practice of a product">
      <RunbookPanel
        jobId={jobId}
        done={(view) => {
          const report = restoreReport(view.finished?.result);
          const check = [...view.logs].reverse().find((l) => l.level === 'info')?.message;
          return (
            <section className="result ok" aria-labelledby="pp-done">
              <h2 id="pp-done">The practice is complete</h2>
              {check ? <p>{check}</p> : null}
              <div className="actions">
                {report ? (
                  <button type="button" className="primary" onClick={() => go({ kind: 'report', path: report })}>
                    View the recovery report
                  </button>
                ) : null}
                <button type="button" className="secondary" onClick={() => go({ kind: 'start' })}>
                  Back to start
                </button>
              </div>
            </section>
          );
        }}
        failed={(_v, error) => (
          <ErrorPanel error={error}>
            <button type="button" className="primary" onClick={() => go({ kind: 'start' })}>
              Back to start
            </button>
          </ErrorPanel>
        )}
      />
    </Screen>
  );
}
