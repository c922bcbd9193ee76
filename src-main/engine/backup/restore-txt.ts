import type { Profile } from '../profiles/schema.js';
import { createHash } from 'node:crypto';
import { MANIFEST_NAME, type BackupManifest } from './manifest.js';

/**
 * A path as one word of a pasted command: POSIX shells get single quotes (nothing inside is expanded: `$`,
 * backquotes and `!` stay as they are; a quote is written '\''), cmd.exe double quotes (its paths cannot hold ").
 */
export function shellWord(p: string, linux: boolean): string {
  if (!linux) return `"${p}"`;
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** The text file beside every backup that says how to restore it by hand with stock tools. */
export function restoreText(m: BackupManifest, profile: Profile): string {
  const parts = m.archive.parts.map((p) => p.name);
  const enc = m.archive.encryption !== null;
  const archiveName = enc ? 'data.tar.gz.age' : 'data.tar.gz';
  // A split archive small enough for one part is still named data.tar.gz.001: joined (copied) like the others.
  const split = parts.length > 1 || (parts.length === 1 && parts[0] !== archiveName);
  const linux = profile.platform === 'linux';
  const own = profile.ownership;
  const lines: string[] = [];
  const p = (s = '') => lines.push(s);
  p(`EDGE RECOVERY BACKUP — ${m.profile.productName}`);
  p('='.repeat(60));
  p(`Made by ${m.tool.name} ${m.tool.version} on ${m.hostname} (device ${m.deviceId})`);
  p(`at ${m.createdAt} UTC, profile "${m.profile.id}", product version ${m.productVersion ?? 'unknown'}.`);
  p(`${m.files} files, ${m.dirs} folders, ${m.symlinks} links, ${m.contentBytes} bytes of data.`);
  p();
  p('Files in this folder');
  // One column for the names, as wide as the longest (data.tar.gz.age ran into its description).
  const files: [string, string][] = [
    ['manifest.json', 'what this backup holds (no secrets)'],
    [
      split ? parts.join(', ') : archiveName,
      `the data: a gzip-compressed tar${enc ? ', encrypted with age (passphrase)' : ''}${split ? ', split into parts' : ''}`,
    ],
    ['SHA256SUMS', 'checksums of the data files and of manifest.json'],
    ['RESTORE.txt', 'this text'],
  ];
  const width = Math.max(...files.map(([n]) => n.length));
  for (const [name, what] of files) p(`  ${name.padEnd(width)}  ${what}`);
  if (m.artifacts.length > 0) {
    p();
    p(`The product's own files (in artifacts/, listed in SHA256SUMS, newest first):`);
    for (const a of m.artifacts) p(`  ${a.path}  ${a.size} bytes, from ${a.source}`);
    if (m.artifacts.some((a) => a.format === 'openssl-enc-tar-gz')) {
      p('  They are encrypted with the product’s own backup passphrase (openssl enc). To check one by hand:');
      p('    openssl enc -d -aes-256-cbc -pbkdf2 -in <file> | tar -tzf -');
      p('  (backups of older versions: the same without -pbkdf2; made with OpenSSL before 1.1.0: add -md md5).');
    }
    p(`  The product's own restore procedure takes them back: ${m.profile.productName}'s documentation, or`);
    p(`  edge-recovery restore <this folder> --profile ${m.profile.id}, which runs it step by step.`);
  }
  if (enc) {
    p();
    p('THE PASSPHRASE: this backup is encrypted. Without its passphrase NOBODY can restore it, not even the');
    p('  vendor: the backup is lost. Keep the passphrase away from this machine, where a technician finds it');
    p('  when the machine is dead: on the printed emergency kit (edge-recovery emergency-kit) in a sealed');
    p("  envelope with the site's papers, or in the organization's password manager.");
    if (m.class === 'automatic') {
      p('  This backup was made by a schedule, which reads the passphrase from a root-only file on the machine');
      p('  (schedule install --passphrase-file): that file dies with the machine, so keep the copy elsewhere.');
    }
  }
  p();
  p('What the checks protect against');
  p('  sha256sum -c SHA256SUMS catches damage: a bad sector, a copy cut short, manifest.json edited after');
  p('  the backup was written. It does not protect against someone who rewrites SHA256SUMS as well.');
  if (enc) {
    p('  The data is encrypted and authenticated (age): without the passphrase it can be neither read nor');
    p('  changed unnoticed (age -d fails). manifest.json also carries a code keyed from the passphrase');
    p('  ("integrity"); edge-recovery verify checks it, so a changed product version or device is caught.');
    p('  By hand, trust the file list inside the decrypted archive (.edge-recovery/files.jsonl).');
  } else {
    p('  This backup is not encrypted: anyone holding the stick can read it, and could rewrite it together');
    p('  with its checksums. Keep the stick safe, or make encrypted backups (--encrypt).');
  }
  p();
  p('The easy way: the Edge Recovery Wizard ("Restore onto this device"), or');
  p(`  edge-recovery restore <this folder> --profile ${m.profile.id}`);
  p();
  p(
    'BY HAND, with stock tools' +
      (linux ? ' (Linux, as root)' : ' (Windows, as Administrator: tar.exe ships with Windows 10 and later)'),
  );
  p('-'.repeat(60));
  p('1. Check the data is intact (run inside this folder):');
  p(linux ? '     sha256sum -c SHA256SUMS' : '     certutil -hashfile <file> SHA256   (compare with SHA256SUMS)');
  p('   Every line must say OK. If not, use another backup.');
  let archive = archiveName;
  if (split) {
    p(`2. Join the parts into one file (they are in order):`);
    p(
      linux
        ? `     cat ${parts.join(' ')} > /var/tmp/${archiveName}`
        : `     copy /b ${parts.join('+')} %TEMP%\\${archiveName}`,
    );
    archive = linux ? `/var/tmp/${archiveName}` : `%TEMP%\\${archiveName}`;
  } else {
    p('2. (The data is in one file: nothing to join.)');
  }
  if (enc) {
    p(
      '3. Decrypt it with age (https://age-encryption.org; Debian/Ubuntu: apt install age); it asks for the passphrase:',
    );
    p(linux ? `     age -d -o /var/tmp/data.tar.gz ${archive}` : `     age -d -o %TEMP%\\data.tar.gz ${archive}`);
    archive = linux ? '/var/tmp/data.tar.gz' : '%TEMP%\\data.tar.gz';
  } else {
    p('3. (The data is not encrypted: nothing to decrypt.)');
  }
  const svc = profile.service;
  const stop =
    svc.manager === 'systemd'
      ? `systemctl stop ${svc.name}`
      : svc.manager === 'windows'
        ? `sc.exe stop ${svc.name}`
        : svc.manager === 'runit'
          ? `sv stop ${svc.name}`
          : `stop ${m.profile.productName} by hand`;
  const start = stop.replace(/stop/g, 'start');
  p(`4. Stop the service:   ${stop}`);
  p('5. Extract into a new folder beside the product folders (same disk, so moves are instant):');
  // Every path is quoted as one word (shellWord): folder names may hold spaces, `$`, quotes.
  const q = (x: string) => shellWord(x, linux);
  // One folder and one pass over the archive per parent folder (EDS: Configuration and Storage side by side), not
  // one per item: each tar reads the whole archive, and a second `mkdir -p` of the same folder only puzzles.
  const byParent = new Map<string, string[]>();
  for (const it of m.items) {
    const parent = linux ? it.path.replace(/\/[^/]+\/?$/, '') : it.path.replace(/\\[^\\]+\\?$/, '');
    byParent.set(parent, [...(byParent.get(parent) ?? []), it.id]);
  }
  for (const [parent, ids] of byParent) {
    const tmp = `${parent}${linux ? '/' : '\\'}restore-tmp`;
    p(`     mkdir ${linux ? '-p ' : ''}${q(tmp)}`);
    p(`     tar -xzpf ${archive} -C ${q(tmp)} ${ids.join(' ')}`);
  }
  p('   (As root, GNU tar gives files their owners by NAME from the archive. The archive also holds');
  p('    .edge-recovery/files.jsonl: every file with its size, mode, owner and sha256, for checking.)');
  p('6. Set the current (default) folders aside, then move the restored ones in — do not delete anything yet:');
  for (const it of m.items) {
    const parent = linux ? it.path.replace(/\/[^/]+\/?$/, '') : it.path.replace(/\\[^\\]+\\?$/, '');
    const sep = linux ? '/' : '\\';
    p(`     ${linux ? 'mv' : 'move'} ${q(it.path)} ${q(`${it.path}.before-restore`)}`);
    p(`     ${linux ? 'mv' : 'move'} ${q(`${parent}${sep}restore-tmp${sep}${it.id}`)} ${q(it.path)}`);
  }
  if (linux && own) {
    p('7. Owners and permissions (by user NAME, never by number):');
    for (const it of m.items) {
      p(`     chown -R ${own.user}:${own.group} ${q(it.path)}`);
      p(`     find ${q(it.path)} -type d -exec chmod ${own.dirMode.toString(8)} {} +`);
      p(`     find ${q(it.path)} -type f -exec chmod ${own.fileMode.toString(8)} {} +`);
    }
  } else if (linux) {
    p("7. (The profile sets no owners or permissions: GNU tar kept the archive's, by name.)");
  } else {
    p('7. (Windows keeps the folder permissions of the ProgramData folder: nothing to do.)');
  }
  p(`8. Start the service:  ${start}`);
  if (profile.credentials.length > 0) {
    p('9. Enter the credentials again. They are encrypted with a key that belongs to the old machine and');
    p('   cannot be read on this one. Re-enter the secrets of:');
    for (const c of profile.credentials) p(`     - ${c.title} (${profile.api?.baseUrl ?? ''}${c.path})`);
    p('   then restart the service.');
  }
  // The last step follows the others: without credentials the list went from 8 to 10. An encrypted backup's
  // decrypted copy (the whole data, readable) is named too, or it stayed behind in /var/tmp.
  const last = profile.credentials.length > 0 ? 10 : 9;
  p(
    `${last}. When the product runs and holds its data, remove the .before-restore folders and restore-tmp${enc ? `, and the decrypted copy ${archive}` : ''}.`,
  );
  p(
    `${' '.repeat(String(last).length)}  To go back instead: stop the service, move the .before-restore folders back, start it.`,
  );
  p();
  return lines.join('\n');
}

/**
 * `sha256sum -c` format: "<hash>  <name>" (two spaces = binary-agnostic text mode). manifest.json is listed
 * too (when given), so verify notices a manifest edited after the backup was written.
 */
export function sha256SumsText(parts: { name: string; sha256: string }[], manifestText?: string): string {
  const lines = parts.map((p) => `${p.sha256}  ${p.name}\n`);
  if (manifestText !== undefined)
    lines.push(`${createHash('sha256').update(manifestText).digest('hex')}  ${MANIFEST_NAME}\n`);
  return lines.join('');
}

/** Parses SHA256SUMS; tolerates the "*name" binary marker. */
export function parseSha256Sums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}
