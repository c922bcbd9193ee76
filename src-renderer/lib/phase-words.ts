/**
 * What the engine's progress phases mean to a technician: what is being done now, and what the byte count
 * measures. Pure, so the CLI words ("archiving", "unpacking") never reach the screen raw.
 */
export interface PhaseWords {
  /** "Writing the backup to the stick" — the progress bar's label. */
  doing: string;
  /** What the byte figure counts ("Checked", "Unpacked"), never a vague "Copied". */
  bytesLabel: string;
  /** What the file figure counts. */
  filesLabel: string;
}

const WORDS: Record<string, PhaseWords> = {
  archiving: {
    doing: 'Packing the folders and writing to the stick',
    bytesLabel: 'Packed',
    filesLabel: 'Files packed',
  },
  verifying: {
    doing: 'Verifying: reading the backup back and checking every file',
    bytesLabel: 'Read back',
    filesLabel: 'Files checked',
  },
  unpacking: { doing: 'Unpacking the backup onto this machine', bytesLabel: 'Read', filesLabel: 'Files unpacked' },
  extracting: { doing: 'Unpacking the backup onto this machine', bytesLabel: 'Read', filesLabel: 'Files unpacked' },
  scanning: { doing: 'Measuring the folders', bytesLabel: 'Measured', filesLabel: 'Files found' },
  'checking owners': {
    doing: 'Checking owners and permissions',
    bytesLabel: 'Checked',
    filesLabel: 'Files checked',
  },
  'writing to disk': {
    doing: "Writing the unpacked files to this machine's disk",
    bytesLabel: 'Unpacked',
    filesLabel: 'Files unpacked',
  },
  copying: { doing: 'Copying to the stick', bytesLabel: 'Copied', filesLabel: 'Files copied' },
  mirroring: { doing: 'Copying the backups to the stick', bytesLabel: 'Copied', filesLabel: 'Files copied' },
  reading: { doing: 'Reading the archive', bytesLabel: 'Read', filesLabel: 'Files read' },
  starting: { doing: 'Starting', bytesLabel: 'Done', filesLabel: 'Files' },
  working: { doing: 'Working', bytesLabel: 'Done', filesLabel: 'Files' },
};

export function phaseWords(phase: string): PhaseWords {
  const w = WORDS[phase];
  if (w) return w;
  const doing = phase ? phase[0]!.toUpperCase() + phase.slice(1) : 'Working';
  return { doing, bytesLabel: 'Done', filesLabel: 'Files' };
}
