import { useEffect, useState } from 'react';
import type { ProfilePlan } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { toUiError } from '../lib/ui-error.js';

type Problem = ProfilePlan['problems'][number];

/** Problems that come from this machine's rights or accounts (not from the folders): codes the engine uses. */
export function rightsProblems(problems: readonly Problem[]): Problem[] {
  return problems.filter((p) => p.code === 'PERMISSION_DENIED' || p.code === 'USER_MISSING');
}

/**
 * What stands in the way, in the engine's words, and — where more rights would help — a button that relaunches
 * the wizard with administrator rights (pkexec on Linux, UAC on Windows; in a browser it says what to do instead).
 */
export function RightsProblems({
  problems,
  canElevate,
  title,
}: {
  problems: readonly Problem[];
  canElevate: boolean;
  title: string;
}) {
  const api = useApi();
  const [answer, setAnswer] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (problems.length === 0) return null;
  const relaunch = async () => {
    setBusy(true);
    try {
      const r = await api.invoke('app.relaunchElevated', {});
      setAnswer(r.message);
    } catch (e) {
      setAnswer(toUiError(e).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="problems" role="alert">
      <h2>{title}</h2>
      <ul>
        {problems.map((p) => (
          <li key={p.code + p.message}>{p.message}</li>
        ))}
      </ul>
      {canElevate ? (
        <div className="actions">
          <button type="button" className="secondary" disabled={busy} onClick={() => void relaunch()}>
            Relaunch with administrator rights
          </button>
        </div>
      ) : null}
      {answer ? <p aria-live="polite">{answer}</p> : null}
    </div>
  );
}

/** Asks the main side what this machine lacks for a profile (rights, owner accounts); null while asking. */
export function useRightsCheck(
  profileRef: string | null,
  root?: string,
): { problems: Problem[]; canElevate: boolean; space: ProfilePlan['space'] } | null {
  const api = useApi();
  const [result, setResult] = useState<{
    problems: Problem[];
    canElevate: boolean;
    space: ProfilePlan['space'];
  } | null>(null);
  useEffect(() => {
    let live = true;
    setResult(null);
    if (!profileRef) return;
    api.invoke('profiles.plan', { profileRef, ...(root ? { root } : {}) }).then(
      (plan) =>
        live &&
        setResult({ problems: rightsProblems(plan.problems), canElevate: plan.canElevate, space: plan.space ?? [] }),
      () => live && setResult({ problems: [], canElevate: false, space: [] }),
    );
    return () => {
      live = false;
    };
  }, [api, profileRef, root]);
  return result;
}
