import { RecoveryError } from '../../src-main/engine/errors.js';

/** The RecoveryError a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(p: Promise<unknown>): Promise<RecoveryError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RecoveryError) return e;
    throw e;
  }
  throw new Error('expected a RecoveryError');
}
