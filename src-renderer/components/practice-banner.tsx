import { selectInfo, selectPractice, useWizard } from '../store/wizard-store.js';

/** Shown on every screen while rehearsing, so nobody mistakes the sandbox for a real appliance. */
export function PracticeBanner() {
  const practice = useWizard(selectPractice);
  const info = useWizard(selectInfo);
  // A practice server (serve --practice) is labelled even before Practice is chosen, e.g. after a reload.
  if (!practice && info?.practice !== true) return null;
  return (
    <div className="practice-banner" role="note" aria-label="Practice mode">
      <strong>PRACTICE</strong> — a simulated appliance on this computer. No real device is changed.
      {practice ? (
        <>
          {' '}
          The “USB stick” is the folder <code>{practice.stickDir}</code>.
        </>
      ) : null}
    </div>
  );
}
