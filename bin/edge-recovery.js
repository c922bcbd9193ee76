#!/usr/bin/env node
// The CLI, from the build (npm run build). From sources: node --import tsx src-main/cli/main.ts
import { main } from '../dist/cli.js';

process.exit(await main(process.argv));
