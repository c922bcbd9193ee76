/**
 * Practice appliance: behaves like Edge Data Store for rehearsals and tests (folders, a local REST API,
 * secrets encrypted with a key that stays on this "machine", data being written while it runs).
 *   node --import tsx src-main/practice/appliance.ts --root <dir> --port <n> --key-file <path> [--version 1.1.1.46]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDefaults11 } from './appliance-api-11.js';
import { DEFAULT_PRACTICE_VERSION, foldersUnder, ensureDefaultConfiguration } from './appliance-config.js';
import { loadOrCreateMachineKey } from './appliance-crypto.js';
import { createApplianceServer, type ApplianceState } from './appliance-server.js';
import { startStorageWriter } from './appliance-storage.js';

function log(m: string): void {
  process.stderr.write(`${new Date().toISOString()} practice-appliance: ${m}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      root: { type: 'string' },
      port: { type: 'string' },
      'key-file': { type: 'string' },
      version: { type: 'string', default: DEFAULT_PRACTICE_VERSION },
      // Which EDS API to speak. 1.0 stays the default so existing rehearsals keep their shape.
      api: { type: 'string', default: '1.0' },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!values.root || !values['key-file'] || !Number.isInteger(port) || port < 0 || port > 65535) {
    log('usage: appliance --root <dir> --port <n> --key-file <path> [--version x.y.z.w] [--api 1.0|1.1]');
    process.exit(2);
  }
  const key = await loadOrCreateMachineKey(values['key-file']);
  const folders = foldersUnder(values.root);
  if (values.api !== '1.0' && values.api !== '1.1') {
    log('--api must be 1.0 or 1.1');
    process.exit(2);
  }
  if (values.api === '1.1') await ensureDefaults11(folders, key);
  else await ensureDefaultConfiguration(folders, key);
  const writer = await startStorageWriter(folders.storage, log);
  const state: ApplianceState = {
    folders,
    key,
    version: values.version,
    runningTransactions: 0,
    api: values.api,
    // Beside the machine key (outside the product's folders), so it survives restarts and restores.
    requestLog: path.join(path.dirname(values['key-file']), 'requests.jsonl'),
  };
  const server = createApplianceServer(state, log);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  log(`listening on 127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}, version ${values.version}`);

  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping`);
    server.closeAllConnections();
    server.close();
    writer
      .close()
      .then(() => process.exit(0))
      .catch((e: unknown) => {
        log(`could not close storage cleanly: ${(e as Error).message}`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  log(`failed to start: ${(e as Error).message}`);
  process.exit(1);
});
