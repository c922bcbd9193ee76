/**
 * A product stopped and started by hand (service manager "none"), with no API: only folders, at
 * /opt/hand/<item> (under the tests' --root). `owner`: the ownership policy (755 folders, 644 files).
 */
export function handProfile(opts: { items?: string[]; owner?: string } = {}): Record<string, unknown> {
  const items = opts.items ?? ['Configuration', 'Storage'];
  return {
    schemaVersion: 1,
    id: 'hand',
    productName: 'Hand-run product',
    platform: 'linux',
    service: { manager: 'none', name: 'hand' },
    items: items.map((id) => ({ id, path: `/opt/hand/${id}`, required: true })),
    ...(opts.owner !== undefined
      ? { ownership: { user: opts.owner, group: opts.owner, dirMode: '755', fileMode: '644', exceptions: [] } }
      : {}),
    version: { policy: 'any' },
  };
}
