import { useEffect, useState } from 'react';
import type { BackupGroup } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { toUiError, type UiError } from './ui-error.js';

/** The backups on a stick folder, grouped by device (`backups.list`), read once per folder; null while reading. */
export function useBackupGroups(dir: string): { groups: BackupGroup[] | null; error: UiError | null } {
  const api = useApi();
  const [groups, setGroups] = useState<BackupGroup[] | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  useEffect(() => {
    let live = true;
    setError(null);
    api.invoke('backups.list', { dir }).then(
      (g) => live && setGroups(g),
      (e: unknown) => live && setError(toUiError(e)),
    );
    return () => {
      live = false;
    };
  }, [api, dir]);
  return { groups, error };
}
