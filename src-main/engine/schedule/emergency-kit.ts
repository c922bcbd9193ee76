import type { Profile } from '../profiles/schema.js';
import { TOOL_NAME, TOOL_VERSION } from '../version.js';
import type { BackupRecord } from './backup-record.js';

export interface EmergencyKitInput {
  profile: Profile;
  deviceId: string;
  hostname: string;
  /** Where the backups go (the schedule's --to), if known. */
  backupsAt: string | null;
  /** The schedule in plain words, if one is installed. */
  schedule: string | null;
  /** Where the unattended passphrase file lives on the machine, if backups are encrypted. */
  passphraseFile: string | null;
  lastBackup: BackupRecord | null;
  now?: Date;
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/**
 * The "emergency kit": one page to print and keep away from the machine, with what a technician needs when
 * the box is dead — where the backups are, the device id, how to restore, and a box to write the passphrase in
 * by hand (never printed by us: the page may be printed on a shared printer). Self-contained HTML, no scripts.
 */
export function emergencyKitHtml(k: EmergencyKitInput): string {
  const now = (k.now ?? new Date()).toISOString().slice(0, 16).replace('T', ' ');
  const row = (label: string, value: string) => `<tr><th scope="row">${esc(label)}</th><td>${esc(value)}</td></tr>`;
  const encrypted = k.passphraseFile !== null || k.lastBackup?.encrypted === true;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Emergency kit — ${esc(k.profile.productName)} on ${esc(k.hostname)}</title>
<style>
body{font:12pt/1.4 system-ui,sans-serif;max-width:46em;margin:1.5em auto;color:#000}
h1{font-size:18pt;margin:0 0 .2em}h2{font-size:13pt;margin:1.2em 0 .3em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.25em .5em;border:1px solid #888}
th{width:14em;background:#eee}.box{border:2px solid #000;height:3.2em;margin:.4em 0}.warn{border:3px solid #000;padding:.6em;font-weight:600}
code{font-family:ui-monospace,monospace;font-size:10.5pt}@media print{body{margin:0}}
</style></head><body>
<h1>Emergency kit: ${esc(k.profile.productName)}</h1>
<p>Print this page and keep it <strong>away from the machine</strong> (with the site's papers, or in a sealed envelope). Made ${esc(now)} UTC by ${esc(TOOL_NAME)} ${esc(TOOL_VERSION)}.</p>
<h2>This machine</h2>
<table>
${row('Host name', k.hostname)}
${row('Device id (backups are filed under it)', k.deviceId)}
${row('Product profile', `${k.profile.id} (${k.profile.productName})`)}
${row('Folders backed up', k.profile.items.map((i) => i.path).join(', '))}
${row('Backups are written to', k.backupsAt ?? 'not set: no schedule installed')}
${row('Schedule', k.schedule ?? 'none installed')}
${row('Last verified backup', k.lastBackup ? `${k.lastBackup.createdAt} (${k.lastBackup.class}) at ${k.lastBackup.setDir}` : 'none recorded yet')}
</table>
${
  encrypted
    ? `<h2>The passphrase</h2>
<p class="warn">The backups are encrypted. Without the passphrase nobody can restore them: they are lost.</p>
<p>Write it here by hand (it is never printed by the tool), or write where it is kept (password manager entry):</p>
<div class="box" aria-label="Passphrase, written by hand"></div>
${k.passphraseFile ? `<p>Scheduled backups read it from <code>${esc(k.passphraseFile)}</code> on this machine (root only). That file is lost with the machine.</p>` : ''}`
    : `<h2>The passphrase</h2><p>These backups are not encrypted: anybody holding the stick can read them. Keep the sticks locked away.</p>`
}
<h2>When the machine is dead</h2>
<ol>
<li>Set up the replacement machine and install ${esc(k.profile.productName)} (the same or a newer version).</li>
<li>Plug in the stick or disk holding the backups (folder <code>EdgeRecovery/${esc(k.deviceId)}/</code>).</li>
<li>Run the Edge Recovery Wizard and choose <em>Restore onto this device</em>, or on a command line:<br>
<code>edge-recovery restore &lt;backup folder&gt; --profile ${esc(k.profile.id)} --allow-other-device</code></li>
<li>Without the tool: every backup folder holds <code>RESTORE.txt</code>, the steps with stock tools (<code>sha256sum -c</code>, <code>age -d</code>, <code>tar -xzpf</code>).</li>
<li>Re-enter the secrets that cannot travel (credentials encrypted for the old machine) when the wizard asks.</li>
</ol>
</body></html>
`;
}
