import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Every test file gets its own state dir (job lock, journals) unless a test names one: engine calls that
 * take no `stateDir` would otherwise all share /var/lib/edge-recovery, and the machine-wide job lock would
 * refuse one engineer's test because another's runs. Child processes (CLI tests) inherit it.
 */
if (!process.env.EDGE_RECOVERY_STATE_DIR) {
  process.env.EDGE_RECOVERY_STATE_DIR = mkdtempSync(path.join(os.tmpdir(), 'edge-recovery-state-'));
}

/**
 * The machine's job lock lives in a fixed root-only folder (/run/edge-recovery): every test file gets its own, or
 * two engineers' unrelated test jobs on this machine would refuse each other. Tests of the machine-wide lock
 * itself give several state folders this one lock folder (child processes inherit it).
 */
if (!process.env.EDGE_RECOVERY_LOCK_DIR) {
  process.env.EDGE_RECOVERY_LOCK_DIR = mkdtempSync(path.join(os.tmpdir(), 'edge-recovery-lock-'));
}

/**
 * The machine's default state folder, where a restore with --state-dir leaves a note naming it
 * (src-main/cli/state-dir.ts) and where commands run with EDGE_RECOVERY_STATE_DIR='' (no --state-dir) look: tests
 * keep it in their own folder, never the machine's /var/lib/edge-recovery (whose journal would change their answers).
 */
if (!process.env.EDGE_RECOVERY_NOTE_DIR) {
  process.env.EDGE_RECOVERY_NOTE_DIR = process.env.EDGE_RECOVERY_STATE_DIR;
}

/**
 * Reports get their PDF from Chromium in the CLI and `serve` (several seconds of CPU each on this machine). Tests
 * that do not look at the PDF leave it out; the report tests turn it on for themselves.
 */
process.env.EDGE_RECOVERY_PDF ??= 'off';
