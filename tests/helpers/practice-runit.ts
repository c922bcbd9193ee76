import path from 'node:path';
import type { ServiceMaker } from '../../src-main/practice/product-practice.js';
import { startRunsvdir } from './runit.js';

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Practice services under a real runit (a private runsvdir per service), as the products' stand-ins run in tests. */
export const runitServiceMaker: ServiceMaker = async (name, argv, home) => {
  const log = path.join(home, `${name}.log`);
  const tree = await startRunsvdir(path.join(home, 'runit', name), {
    [name]: `#!/bin/sh\nexec >>${shq(log)} 2>&1\nexec ${argv.map(shq).join(' ')}\n`,
  });
  return {
    spec: { manager: 'runit', name: tree.services[0]!, stopTimeoutSeconds: 15, startTimeoutSeconds: 30 },
    dispose: () => tree.stop(),
  };
};
