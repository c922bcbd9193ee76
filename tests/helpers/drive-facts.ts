import type { DriveFacts } from '../../src-main/engine/media/drive-rules.js';

export const GB = 1e9;

/** A 16 GB ext4 USB stick mounted at /media/tech/BACKUP with 12 GB free; `over` and `mount` change what a case needs. */
export function stick(
  over: Partial<DriveFacts> = {},
  mount: Partial<DriveFacts['mountpoints'][number]> = {},
): DriveFacts {
  return {
    device: '/dev/sdb',
    description: 'SanDisk Cruzer Blade (BACKUP)',
    size: 16 * GB,
    isRemovable: true,
    isUSB: true,
    isSystem: false,
    isVirtual: false,
    isReadOnly: false,
    mountpoints: [
      {
        path: '/media/tech/BACKUP',
        label: 'BACKUP',
        fsType: 'ext4',
        freeBytes: 12 * GB,
        totalBytes: 16 * GB,
        ...mount,
      },
    ],
    ...over,
  };
}
