import { parseProfile } from '../../src-main/engine/profiles/load.js';
import type { Profile } from '../../src-main/engine/profiles/schema.js';
import { emptyProductState, type ProductHost } from '../../src-main/engine/runbook/product/product-steps.js';

/**
 * What the product-step tests run steps with: a profile of one small folder and no service of its own, with the
 * steps given (and anything in `extra`: an api, an ownership policy), and a host lending them a fresh state.
 */
export function stepsProfile(steps: unknown[], extra: Record<string, unknown> = {}): Profile {
  return parseProfile(
    {
      schemaVersion: 1,
      id: 'steps-test',
      productName: 'Step test product',
      platform: 'linux',
      service: { manager: 'none', name: 'none' },
      items: [{ id: 'Data', path: '/data' }],
      stopService: [],
      steps,
      ...extra,
    },
    'test profile',
  );
}

/** A host for `profile`'s steps: no root, no passphrase, a new state; `over` replaces any of it. */
export function productHost(profile: Profile, over: Partial<ProductHost> = {}): ProductHost {
  return {
    profile,
    root: null,
    label: 'test',
    device: 'dev-1',
    passphrase: undefined,
    signal: undefined,
    pollMs: 50,
    state: emptyProductState(),
    save: () => Promise.resolve(),
    ...over,
  };
}
