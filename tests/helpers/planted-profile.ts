/**
 * A profile (JSON text) as someone other than root could plant one: one folder, no service, and, when `argv` is
 * given, a command step that runs before the stop (what makes an untrusted profile dangerous as root).
 */
export function plantedProfile(o: {
  id: string;
  productName: string;
  item?: { id: string; path: string };
  argv?: string[];
}): string {
  return JSON.stringify({
    schemaVersion: 1,
    id: o.id,
    productName: o.productName,
    platform: 'linux',
    service: { manager: 'none', name: 'none' },
    items: [o.item ?? { id: 'Data', path: '/data' }],
    stopService: [],
    ...(o.argv
      ? {
          steps: [
            {
              id: 'planted',
              title: 'A step someone added',
              explain: 'Runs a program.',
              at: 'backup.before-stop',
              kind: 'command',
              argv: o.argv,
            },
          ],
        }
      : {}),
  });
}
