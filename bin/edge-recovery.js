#!/usr/bin/env node
// The CLI, from the build (npm run build). From sources: node --import tsx src-main/cli/main.ts
// `--help`, `--version` and `profiles` print what the build wrote down from the program itself
// (dist/cli-quick.json): loading the program for them would cost more CPU than Node's own start.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const quick =
  args.length === 1
    ? { '-h': '--help', '--help': '--help', '-V': '--version', '--version': '--version', profiles: 'profiles' }[args[0]]
    : undefined;
if (quick !== undefined) {
  let answers = null;
  try {
    answers = JSON.parse(readFileSync(new URL('../dist/cli-quick.json', import.meta.url), 'utf8'));
  } catch {
    /* an older build: the program answers */
  }
  if (answers?.[quick] !== undefined) {
    process.stdout.write(answers[quick]);
    process.exit(0);
  }
}
const { main } = await import('../dist/cli.js');
process.exit(await main(process.argv));
