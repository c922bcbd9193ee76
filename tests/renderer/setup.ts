import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';
import { resetWizard } from '../../src-renderer/store/wizard-store.js';

// vitest runs without globals, so Testing Library cannot register its own cleanup.
afterEach(() => {
  cleanup();
  resetWizard();
});
