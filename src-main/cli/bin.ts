// Runs the CLI from sources: node --import tsx src-main/cli/bin.ts <command> …
import { main } from './main.js';

process.exit(await main(process.argv));
