import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gidForGroup, groupNameForGid, uidForUser, userNameForUid } from '../../src-main/engine/util/system-users.js';
import { tempDir } from '../helpers/datasets.js';

let etc: string;
beforeAll(async () => {
  etc = await tempDir('etc');
  await fsp.writeFile(
    path.join(etc, 'passwd'),
    '# comment\nroot:x:0:0:root:/root:/bin/bash\neds:x:998:997::/opt/eds:/usr/sbin/nologin\nalias:x:998:997::/:/bin/false\nbroken-line\n',
  );
  await fsp.writeFile(path.join(etc, 'group'), 'root:x:0:\neds:x:997:\nnogroup:x:65534:\n');
});
afterAll(async () => {
  await fsp.rm(etc, { recursive: true, force: true });
});

describe('system users', () => {
  it('maps ids to names and names to ids from passwd and group files', () => {
    expect(userNameForUid(998, etc)).toBe('eds');
    expect(groupNameForGid(65534, etc)).toBe('nogroup');
    expect(uidForUser('eds', etc)).toBe(998);
    expect(gidForGroup('eds', etc)).toBe(997);
  });

  it('takes the first name for an id, like getpwuid, and ignores comments and broken lines', () => {
    expect(userNameForUid(998, etc)).toBe('eds');
    expect(uidForUser('alias', etc)).toBe(998);
    expect(uidForUser('broken-line', etc)).toBeUndefined();
  });

  it('returns undefined for unknown ids and names, and for a missing etc folder', () => {
    expect(userNameForUid(4242, etc)).toBeUndefined();
    expect(gidForGroup('nope', etc)).toBeUndefined();
    expect(userNameForUid(0, path.join(etc, 'missing'))).toBeUndefined();
  });

  it('reads the real /etc by default', () => {
    expect(userNameForUid(0)).toBe('root');
    expect(uidForUser('root')).toBe(0);
  });
});
