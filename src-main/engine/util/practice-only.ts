import path from 'node:path';
import { RecoveryError } from '../errors.js';
import type { Profile } from '../profiles/schema.js';
import { practiceSandboxOf } from './job-lock.js';
import { isInside as inside } from './path-inside.js';

type ServiceSpec = Profile['service'];

/** Why a service is not one of the sandbox's stand-ins, or null when it is. */
function realService(s: ServiceSpec, sandbox: string): string | null {
  if (s.manager === 'none') return null;
  // A stand-in runs under the process manager with its pid file in the sandbox, or under a private runit tree there.
  if (s.manager === 'process' && s.pidFile !== undefined && inside(sandbox, s.pidFile)) return null;
  if (s.manager === 'runit' && path.isAbsolute(s.name) && inside(sandbox, s.name)) return null;
  return `its service "${s.name}" (${s.manager}) is this machine's, not a practice stand-in`;
}

/**
 * A practice job (its state folder is a practice sandbox's, see `practiceLockScope`) keeps its journal in the
 * sandbox, which goes when the practice ends, and takes the sandbox's lock, not the machine's: it may only work
 * on the sandbox's stand-ins. A real product's profile (its folders or its service outside the sandbox) is
 * refused here, before the lock is taken and before anything is read or changed, whatever the page asked for.
 */
export function refuseRealProductInPractice(stateDir: string, profile: Profile, folders: () => string[]): void {
  const sandbox = practiceSandboxOf(stateDir);
  if (sandbox === undefined) return;
  const why: string[] = [];
  const outside = folders().filter((f) => !inside(sandbox, f));
  if (outside.length > 0) why.push(`its folder ${outside[0]} is outside the practice sandbox`);
  const services = [profile.service, ...profile.steps.flatMap((s) => (s.kind === 'service' ? [s.service] : []))];
  for (const s of services) {
    const w = realService(s, sandbox);
    if (w !== null) {
      why.push(w);
      break;
    }
  }
  if (why.length === 0) return;
  throw new RecoveryError(
    'PROFILE_UNTRUSTED',
    `Practice works only on the practice appliances: "${profile.productName}" (${profile.id}) here is a real product (${why.join('; ')}), so the job did not start. Nothing was changed.`,
    {
      hint: 'To back up or restore the real product, leave practice first ("Leave practice" on the start screen; or start "edge-recovery serve" without --practice). To rehearse, choose one of the practice appliances.',
      details: { sandbox, profileId: profile.id },
    },
  );
}
