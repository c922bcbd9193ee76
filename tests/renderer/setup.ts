import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';
import { resetWizard } from '../../src-renderer/store/wizard-store.js';

// findBy*/waitFor give up after 1 s by default: a role query over a whole screen in jsdom can take longer than that
// on a loaded 2-core machine (plan-estimates once failed so in a run beside e2e files). Waiting longer changes
// nothing for a test that passes, and a failing one still fails, later.
configure({ asyncUtilTimeout: 10_000 });

// vitest runs without globals, so Testing Library cannot register its own cleanup.
afterEach(() => {
  cleanup();
  resetWizard();
});
