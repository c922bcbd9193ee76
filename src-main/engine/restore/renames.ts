import { renameDurable } from '../util/atomic-fs.js';
import { crashPoint } from './crash-point.js';
import type { JournalStore, RenameRecord } from './journal.js';

/**
 * A folder rename the journal knows about before and after it happens, so a crash between the two
 * journal writes is recovered by looking at the filesystem (reconcileRenames).
 */
export async function journaledRename(
  store: JournalStore,
  rec: Omit<RenameRecord, 'state'>,
  /** The path actually renamed, when not `rec.from` by name: the same file through a held folder's descriptor. */
  via = rec.from,
  /** Where it is actually renamed to, when not `rec.to` by name: the same place through a held folder's descriptor. */
  viaTo = rec.to,
): Promise<void> {
  const entry: RenameRecord = { ...rec, state: 'intended' };
  store.j.renames.push(entry);
  await store.save(`rename-intent:${rec.purpose}:${rec.itemId}`);
  await renameDurable(via, viaTo);
  crashPoint(`renamed:${rec.purpose}:${rec.itemId}`);
  entry.state = 'done';
  await store.save(`rename-done:${rec.purpose}:${rec.itemId}`);
}
