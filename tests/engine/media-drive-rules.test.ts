import { describe, expect, it } from 'vitest';
import { evaluateDrive, type DriveFacts } from '../../src-main/engine/media/drive-rules.js';
import { GB, stick } from '../helpers/drive-facts.js';

const codes = (d: DriveFacts, opts = {}): string[] => evaluateDrive(d, opts).reasons.map((r) => r.code);

describe('drive rules', () => {
  it('offers an ext4 USB stick with room to spare without any reason', () => {
    expect(evaluateDrive(stick(), { minFreeBytes: 2 * GB })).toEqual({
      status: 'ok',
      reasons: [],
      mountpoint: '/media/tech/BACKUP',
    });
  });

  it('hides zram0 as drivelist reports it here (removable, virtual, no size)', () => {
    const zram: DriveFacts = {
      device: '/dev/zram0',
      description: '',
      size: null,
      isRemovable: true,
      isUSB: null,
      isSystem: false,
      isVirtual: true,
      isReadOnly: false,
      mountpoints: [],
    };
    const v = evaluateDrive(zram);
    expect(v.status).toBe('hidden');
    expect(v.reasons.map((r) => r.code)).toEqual(['VIRTUAL']);
  });

  it('hides a disk mounted at / even when drivelist does not flag it as a system disk', () => {
    const d = stick({ isSystem: false }, { path: '/' });
    const v = evaluateDrive(d);
    expect(v.status).toBe('hidden');
    expect(v.reasons[0]).toEqual({
      code: 'SYSTEM_DRIVE',
      message: 'This is the system disk: the tool never writes to it.',
    });
  });

  it.each(['/boot', '/usr', '/boot/efi'])('hides a drive holding %s', (p) => {
    expect(codes(stick({}, { path: p }))).toContain('SYSTEM_DRIVE');
  });

  it('hides what drivelist flags as a system disk', () => {
    expect(evaluateDrive(stick({ isSystem: true, isRemovable: false })).status).toBe('hidden');
  });

  it('hides the Windows system drive whatever the letter case', () => {
    const d = stick({}, { path: 'c:\\' });
    expect(codes(d, { windowsSystemDrive: 'C:', rootPath: 'C:\\' })).toContain('SYSTEM_DRIVE');
    expect(codes(stick({}, { path: 'E:\\' }), { windowsSystemDrive: 'C:', rootPath: 'C:\\' })).not.toContain(
      'SYSTEM_DRIVE',
    );
  });

  it("hides a drive holding the tool's own state folder", () => {
    const v = evaluateDrive(stick(), { stateDirs: ['/media/tech/BACKUP/.edge-recovery'] });
    expect(v.status).toBe('hidden');
    expect(v.reasons.map((r) => r.code)).toEqual(['HOLDS_TOOL_STATE']);
    expect(codes(stick(), { stateDirs: ['/var/lib/edge-recovery'] })).toEqual([]);
  });

  it('hides an unmounted stick and says to mount it first', () => {
    const v = evaluateDrive(stick({ mountpoints: [] }));
    expect(v.status).toBe('hidden');
    expect(v.reasons).toHaveLength(1);
    expect(v.reasons[0]!.code).toBe('NOT_MOUNTED');
    expect(v.reasons[0]!.message).toMatch(/Mount it first/);
  });

  it('treats a swap-only drive as not mounted', () => {
    expect(codes(stick({ mountpoints: [{ path: '[SWAP]' }] }))).toEqual(['NOT_MOUNTED']);
  });

  it('hides a card reader with no card in it', () => {
    expect(codes(stick({ size: null, mountpoints: [] }))).toEqual(['NO_MEDIUM']);
  });

  it('hides a write-protected stick', () => {
    const v = evaluateDrive(stick({ isReadOnly: true }));
    expect(v.status).toBe('hidden');
    expect(v.reasons[0]!.message).toMatch(/write-protect/);
  });

  it('hides a stick smaller than the backup, and one without enough free space', () => {
    expect(codes(stick({ size: 8 * GB }), { minFreeBytes: 10 * GB })).toContain('TOO_SMALL');
    const v = evaluateDrive(stick({}, { freeBytes: 1 * GB }), { minFreeBytes: 2 * GB });
    expect(v.status).toBe('hidden');
    expect(v.reasons.map((r) => r.code)).toEqual(['NOT_ENOUGH_SPACE']);
    expect(v.reasons[0]!.message).toBe(
      'Only 954 MiB free; the backup needs about 1.9 GiB. Free some space or use another stick.',
    );
  });

  it('warns that a FAT32 stick splits the backup and cannot keep owners', () => {
    const v = evaluateDrive(stick({}, { fsType: 'vfat' }), { minFreeBytes: GB });
    expect(v.status).toBe('warning');
    expect(v.reasons.map((r) => r.code)).toEqual(['FAT32_SPLIT', 'NO_OWNERS_ON_MEDIUM']);
    expect(v.reasons[1]!.message).toMatch(/archive records owners/);
  });

  it('warns about owners, not splitting, on exFAT and on any FUSE filesystem', () => {
    expect(codes(stick({}, { fsType: 'exfat', isFuse: true }))).toEqual(['NO_OWNERS_ON_MEDIUM']);
    expect(codes(stick({}, { fsType: 'ntfs', isFuse: true }))).toEqual(['NO_OWNERS_ON_MEDIUM']);
  });

  it('warns when the stick will be nearly full after the backup', () => {
    const v = evaluateDrive(stick({}, { freeBytes: 3 * GB, totalBytes: 16 * GB }), { minFreeBytes: 2 * GB });
    expect(v.status).toBe('warning');
    expect(v.reasons.map((r) => r.code)).toEqual(['NEARLY_FULL']);
  });

  it('judges space on the partition with the most free space', () => {
    const d = stick({
      mountpoints: [
        { path: '/media/a', fsType: 'vfat', freeBytes: 1 * GB, totalBytes: 2 * GB },
        { path: '/media/b', fsType: 'ext4', freeBytes: 10 * GB, totalBytes: 14 * GB },
      ],
    });
    expect(evaluateDrive(d, { minFreeBytes: 5 * GB })).toEqual({ status: 'ok', reasons: [], mountpoint: '/media/b' });
  });

  it('warns that a fixed, non-USB data disk keeps the backup inside the machine', () => {
    expect(codes(stick({ isRemovable: false, isUSB: false }))).toEqual(['NOT_REMOVABLE']);
  });
});
