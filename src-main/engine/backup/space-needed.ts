/**
 * The most a backup of `bytes` in `entries` (files, links and folders) can take on the medium: data that does
 * not compress, a 512-byte header and padding per entry, plus the inner manifest. The backup's pre-check
 * refuses a medium with less free space; the wizard's plan shows the same figure against each stick.
 */
export function archiveSpaceNeeded(bytes: number, entries: number): number {
  return bytes + entries * (1024 + 256) + 16 * 1024 * 1024;
}
