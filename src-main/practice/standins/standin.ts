/**
 * Practice stand-ins of the products that back themselves up: `standin <product> <command> [args…]`.
 * Installed into a sandbox as the products' own scripts (see common.ts), run by the profiles' steps.
 */
import { deviceonMain } from './deviceon.js';
import { evcEdgeMain } from './evc-edge.js';
import { opencrvsMain } from './opencrvs.js';
import { stackstateMain } from './stackstate.js';

const products: Record<string, (argv: string[]) => Promise<number>> = {
  deviceon: deviceonMain,
  'evc-edge': evcEdgeMain,
  opencrvs: opencrvsMain,
  stackstate: stackstateMain,
};

const [product, ...rest] = process.argv.slice(2);
const main = product === undefined ? undefined : products[product];
if (main === undefined) {
  process.stderr.write(`usage: standin <${Object.keys(products).join('|')}> <command> [args…]\n`);
  process.exit(2);
}
main(rest).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
