/**
 * The privileged helper as a plain Node program (dist/helper.js): `node dist/helper.js --privileged-helper`,
 * started by the unprivileged side with pkexec and nothing else on its command line. Serves the handler table on
 * stdin/stdout until stdin ends. Electron's build runs the same loop in its own binary (main/helper-mode.ts).
 */
import { defaultStateDir } from '../engine/restore/journal.js';
import { HELPER_FLAG, helperStartProblem, serveHelper } from './helper-channel.js';

const problem = helperStartProblem(process.argv.slice(2), [HELPER_FLAG]);
if (problem !== null) {
  process.stderr.write(`edge-recovery helper: refused to start: ${problem}\n`);
  process.exit(2);
}
// stdout carries the protocol only.
console.log = (...a: unknown[]) => void process.stderr.write(a.map(String).join(' ') + '\n');
await serveHelper(process.stdin, process.stdout, { shell: 'electron', stateDir: defaultStateDir() });
process.exit(0);
