import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * uid/gid ↔ name lookups from /etc/passwd and /etc/group. Tar headers carry owner *names* so a restore
 * on a rebuilt appliance (where ids may differ) maps them to local ids. Parsed files, no `getent`
 * subprocess: a worker archiving 100k files asks many times, and the tables are tiny.
 * On Windows there are no such files: every lookup returns undefined.
 */
interface Table {
  byId: Map<number, string>;
  byName: Map<string, number>;
}

const cache = new Map<string, { passwd: Table; group: Table }>();

function parseTable(file: string): Table {
  const byId = new Map<number, string>();
  const byName = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { byId, byName };
  }
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const name = f[0];
    const id = Number(f[2]);
    if (!name || f[2] === undefined || f[2] === '' || !Number.isInteger(id)) continue;
    // First entry wins, like getpwuid(3) walking the file.
    if (!byId.has(id)) byId.set(id, name);
    if (!byName.has(name)) byName.set(name, id);
  }
  return { byId, byName };
}

function tables(etcDir: string): { passwd: Table; group: Table } {
  let t = cache.get(etcDir);
  if (!t) {
    t = { passwd: parseTable(path.join(etcDir, 'passwd')), group: parseTable(path.join(etcDir, 'group')) };
    cache.set(etcDir, t);
  }
  return t;
}

/** Forgets parsed tables (a test or a restore step that just ran `useradd`). */
export function clearSystemUsersCache(): void {
  cache.clear();
}

const isWindows = (): boolean => process.platform === 'win32';

export function userNameForUid(uid: number, etcDir = '/etc'): string | undefined {
  return isWindows() ? undefined : tables(etcDir).passwd.byId.get(uid);
}

export function groupNameForGid(gid: number, etcDir = '/etc'): string | undefined {
  return isWindows() ? undefined : tables(etcDir).group.byId.get(gid);
}

export function uidForUser(name: string, etcDir = '/etc'): number | undefined {
  return isWindows() ? undefined : tables(etcDir).passwd.byName.get(name);
}

export function gidForGroup(name: string, etcDir = '/etc'): number | undefined {
  return isWindows() ? undefined : tables(etcDir).group.byName.get(name);
}
