import type { ProfileInput } from './schema.js';
import edsLinux from './builtin/eds-linux.json' with { type: 'json' };
import edsWindows from './builtin/eds-windows.json' with { type: 'json' };
import edsDocker from './builtin/eds-docker.json' with { type: 'json' };
import deviceonLinux from './builtin/deviceon-linux.json' with { type: 'json' };
import deviceonWindows from './builtin/deviceon-windows.json' with { type: 'json' };
import evcEdge from './builtin/evc-edge.json' with { type: 'json' };
import opencrvs from './builtin/opencrvs.json' with { type: 'json' };
import stackstateLinux from './builtin/stackstate-linux.json' with { type: 'json' };

/**
 * The built-in profiles as shipped (validated by parseProfile when used; tests check every one parses).
 * Kept apart from load.ts so listing them (`edge-recovery profiles`) does not load the schema library.
 */
export const BUILTIN_SOURCES: Record<string, ProfileInput> = {
  'eds-linux': edsLinux as ProfileInput,
  'eds-windows': edsWindows as ProfileInput,
  'eds-docker': edsDocker as ProfileInput,
  'evc-edge': evcEdge as ProfileInput,
  'deviceon-linux': deviceonLinux as ProfileInput,
  'deviceon-windows': deviceonWindows as ProfileInput,
  opencrvs: opencrvs as ProfileInput,
  'stackstate-linux': stackstateLinux as ProfileInput,
};

export function builtinProfileIds(): string[] {
  return Object.keys(BUILTIN_SOURCES);
}
