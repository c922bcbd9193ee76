/**
 * Whole-command benchmark: what the technician waits for, against what they would type by hand, same data,
 * same run. Every measurement is its own process under /usr/bin/time (wall, CPU user+sys, peak RSS).
 *
 *   npm run bench                                  # full scale: A, B, S, H (~10 GiB of data, ~30 min)
 *   BENCH_SCALE=0.05 npm run bench                 # a twentieth, for a quick look
 *   BENCH_SETS=B,S BENCH_SCALE=0.1 npm run bench   # some datasets only
 *   BENCH_DIR=/mnt/x npm run bench                 # where data and archives go (default: $TMPDIR/edge-recovery-bench)
 *   BENCH_OUT=x.md npm run bench                   # where the Markdown results go (default: bench-results.md)
 *
 * Datasets (~55 % compressible data, tests/helpers/datasets.ts): A 1 GiB of 1 MiB files, B 100,000 × 10 KiB,
 * S 500,000 × 1 KiB, H one 4 GiB file. Commands compared:
 *   backup   `edge-recovery backup` (pre-checks, archive, read-back verify)  vs `tar -czf`, `tar | pigz -1`, `tar --zstd`;
 *            and a floor: `tar | pigz -1`, `sync -f`, then one read back from the disk through `sha256sum` and
 *            `pigz -d | tar -t` (the least a backup with a read-back does, in stock C tools on every core)
 *   verify   `edge-recovery verify`                                         vs `sha256sum -c SHA256SUMS` + `tar -tzf`
 *   restore  `edge-recovery restore` (check, one-read unpack + verify, stop, swap, owners, start) vs RESTORE.txt's manual recipe:
 *            `sha256sum -c` + `tar -xzpf` + mv aside + mv in + `chown -R` + chmod by `find`; then, outside its time,
 *            a `sync -f` of the target (ours puts its data on disk before the swap, inside its time): printed apart;
 *            and a floor: one thread making only the calls a restore must make per file, then `sync -f`
 *            (scripts/create-floor.mjs), against the same recipe
 * The page cache is warmed through a pipe before each dataset (GNU tar skips reading when it writes to /dev/null);
 * archives are dropped from the cache before every verify/restore (ours does that itself: it reads the stick).
 * Each restore (manual and ours) writes into a freshly made ext4 filesystem with a journal on a loop device with
 * direct I/O (a buffered loop device wrote back at an eighth of the disk's speed), with Debian's
 * mkfs defaults, enough inodes), as on an appliance: on a journal-less ext4 (this build machine's root), creating files
 * shortly after deleting many costs 5–25× more per file (the kernel's inode allocator skips recently deleted inodes one
 * by one), which would charge whichever side ran after a big `rm -rf`. Without root (no loop mount) the target is a
 * plain folder and the table says so.
 * The CLI's service is a real process (`sleep`) the commands stop and start. Not a test: nothing is asserted.
 * Our commands run with EDGE_RECOVERY_PDF=off (BENCH_PDF=on keeps it): the PDF of the report is printed by a
 * Chromium child process, whose CPU and memory (~200 MiB) would otherwise be counted as ours; the HTML and JSON
 * reports are still written.
 * Progress (elapsed time, what runs now) goes to stderr; the results table, as Markdown for the README, to stdout
 * and to BENCH_OUT. Generated data is kept in BENCH_DIR (a second run skips generating it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, promises as fsp, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeFiles, mixedBlock, processProfile } from '../tests/helpers/datasets.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(root, 'bin/edge-recovery.js');
const GiB = 1024 ** 3;

interface Measured {
  wall: number;
  cpu: number;
  peakMiB: number;
  /** Our commands: seconds per runbook step, and the longest silence between two events (ms). */
  steps?: Record<string, number>;
  maxGapMs?: number;
  maxGapStep?: string;
  /** Our commands: seconds from the service's stop (its step starting) to its start (its step done). */
  downSeconds?: number;
}

interface Row extends Measured {
  dataset: string;
  what: 'backup' | 'verify' | 'restore';
  tool: string;
  size?: number;
  content: number;
  ref?: Measured;
  /** The manual restore's `sync -f` right after it: putting its data on disk, which ours does before the swap. */
  flushAfter?: Measured;
}

const benchStart = performance.now();

/** A progress line: elapsed time of the whole run, then what starts now. */
function note(what: string): void {
  const s = Math.round((performance.now() - benchStart) / 1000);
  console.error(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${what}`);
}

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

function parseTime(file: string, text: string): Omit<Measured, 'wall'> & { wall: number } {
  const m = /BENCH (\S+) (\S+) (\S+) (\d+)/.exec(text);
  if (!m) throw new Error(`no /usr/bin/time output in ${file}: ${text}`);
  return { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), peakMiB: Number(m[4]) / 1024 };
}

/** Runs a shell command under /usr/bin/time; our CLI's --json events are timestamped as they arrive. */
async function timed(cmd: string, cwd: string, json = false): Promise<Measured> {
  note(`  running: ${cmd.length > 110 ? cmd.slice(0, 107) + '…' : cmd}`);
  const tf = path.join(os.tmpdir(), `bench-time-${process.pid}.txt`);
  const child = spawn('/usr/bin/time', ['-o', tf, '-f', 'BENCH %e %U %S %M', 'sh', '-c', cmd], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const t0 = performance.now();
  const steps: Record<string, number> = {};
  let stepStart = t0;
  let step = '(start)';
  let lastEvent = t0;
  let maxGapMs = 0;
  let maxGapStep = '';
  let downFrom: number | null = null;
  let downSeconds = 0;
  const lines = readline.createInterface({ input: child.stdout });
  const done = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  for await (const l of lines) {
    if (!json || !l.startsWith('{')) continue;
    const now = performance.now();
    let e: { type: string; step?: { id: string; state: string } };
    try {
      e = JSON.parse(l);
    } catch {
      continue;
    }
    // Silence inside a step that works on data (not waiting for a service or an answer).
    if (/prechecks|archive|verify|extract|ownership/.test(step) && now - lastEvent > maxGapMs) {
      maxGapMs = now - lastEvent;
      maxGapStep = step;
    }
    lastEvent = now;
    if (e.type === 'step' && e.step) {
      if (e.step.id === 'stop-service' && e.step.state === 'running') downFrom = now;
      if (e.step.id === 'start-service' && e.step.state === 'done' && downFrom !== null) {
        downSeconds += (now - downFrom) / 1000;
        downFrom = null;
      }
      if (e.step.state === 'running') {
        step = e.step.id;
        stepStart = now;
      } else if (e.step.id === step && e.step.state !== 'todo') {
        steps[e.step.id] = (steps[e.step.id] ?? 0) + (now - stepStart) / 1000;
        step = '(between steps)';
      }
    }
  }
  const code = await done;
  const text = await fsp.readFile(tf, 'utf8').catch(() => '');
  await fsp.rm(tf, { force: true });
  if (code !== 0) throw new Error(`${cmd} failed (${code}): ${err}`);
  const t = parseTime(tf, text);
  return json ? { ...t, steps, maxGapMs, maxGapStep, downSeconds } : t;
}

function sh(cmd: string, cwd = root): void {
  const r = spawnSync('sh', ['-c', cmd], { cwd, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(path.join(e.parentPath, e.name)).size;
  }
  return n;
}

async function makeBigFile(file: string, size: number): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file);
  const chunk = 64 * 1024 * 1024;
  for (let off = 0, i = 0; off < size; off += chunk, i++) {
    const b = mixedBlock(Math.min(chunk, size - off), i * 1031);
    if (!out.write(b)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/** A profile whose only folder is `folder` and whose service is a real process the CLI stops and starts. */
async function writeProfile(file: string, folder: string, pidFile: string): Promise<void> {
  await fsp.writeFile(file, processProfile('bench', folder, pidFile));
}

function stopService(pidFile: string): void {
  try {
    const pid = Number(spawnSync('cat', [pidFile], { encoding: 'utf8' }).stdout.trim());
    if (pid > 0) process.kill(pid);
  } catch {
    /* not running */
  }
}

/**
 * A fresh ext4 (with journal) for one restore, mounted at `mnt`, sized for `content` bytes in `files` files twice
 * over (staging + what it replaces); false when it cannot be made (not root, no loop devices).
 */
function freshTargetFs(img: string, mnt: string, content: number, files: number): boolean {
  unmountTarget(mnt);
  spawnSync('rm', ['-f', img]);
  const bytes = 2 * (content + files * 4096) + 2 * GiB;
  const inodes = 2 * files + 100_000;
  const r = spawnSync(
    'sh',
    [
      '-c',
      // Direct I/O on the loop device: the image's writes go straight to the disk below. A buffered loop device
      // (`mount -o loop`) caches every page twice and wrote back at 145 MB/s here, against 1.1 GB/s for the disk
      // itself (dd … conv=fdatasync): it made both restores of big files wait on the loop device, not the disk.
      `truncate -s ${bytes} ${q(img)} && mkfs.ext4 -q -F -N ${inodes} ${q(img)} && mkdir -p ${q(mnt)} && dev=$(losetup --direct-io=on -f --show ${q(img)}) && { mount "$dev" ${q(mnt)} || { losetup -d "$dev"; false; }; }`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
  );
  if (r.status !== 0) {
    note(`  (no fresh ext4 for the restore target: ${r.stderr.trim().split('\n').pop() ?? ''}; using a plain folder)`);
    spawnSync('rm', ['-f', img]);
    return false;
  }
  return true;
}

function unmountTarget(mnt: string): void {
  if (spawnSync('mountpoint', ['-q', mnt]).status === 0) spawnSync('umount', [mnt]);
  // losetup (unlike `mount -o loop`) leaves the loop device attached after the umount.
  const img = `${mnt}.img`;
  const devs = spawnSync('losetup', ['-j', img, '-n', '-O', 'NAME'], { encoding: 'utf8' }).stdout ?? '';
  for (const d of devs.split('\n').filter((x) => x.trim() !== '')) spawnSync('losetup', ['-d', d.trim()]);
}

const dropCache = (files: string[]): string =>
  files.map((f) => `dd if=${q(f)} iflag=nocache count=0 status=none`).join(' && ');

async function main(): Promise<void> {
  const scale = Number(process.env['BENCH_SCALE'] ?? '1');
  const wanted = (process.env['BENCH_SETS'] ?? 'A,B,S,H').split(',');
  const base = process.env['BENCH_DIR'] ?? path.join(os.tmpdir(), 'edge-recovery-bench');
  for (const t of ['tar', 'sha256sum', '/usr/bin/time', 'dd', 'find']) {
    if (!have(t)) throw new Error(`${t} is needed (apt-get install time coreutils tar findutils)`);
  }
  const sets = [
    { id: 'A', name: 'A 1 MiB files', count: Math.max(1, Math.round(1024 * scale)), size: 1024 * 1024 },
    { id: 'B', name: 'B 10 KiB files', count: Math.max(1, Math.round(100_000 * scale)), size: 10 * 1024 },
    { id: 'S', name: 'S 1 KiB files', count: Math.max(1, Math.round(500_000 * scale)), size: 1024 },
    { id: 'H', name: 'H one big file', count: 1, size: Math.max(1024 * 1024, Math.round(4 * GiB * scale)) },
  ].filter((s) => wanted.includes(s.id));
  const rows: Row[] = [];
  let targetFs = '';
  const work = path.join(base, 'work');
  unmountTarget(path.join(work, 'target-fs')); // left mounted by an interrupted run
  await fsp.rm(work, { recursive: true, force: true });
  await fsp.mkdir(work, { recursive: true });
  const pidFile = path.join(work, 'svc', 'bench.pid');
  await fsp.mkdir(path.dirname(pidFile));
  const pdf = (process.env['BENCH_PDF'] ?? 'off').toLowerCase() === 'on';
  const node = `${pdf ? '' : 'EDGE_RECOVERY_PDF=off '}${q(process.execPath)} ${q(CLI)}`;

  for (const s of sets) {
    const dataDir = path.join(base, `${s.id}-${s.count}x${s.size}`);
    const data = path.join(dataDir, 'data');
    if (!existsSync(path.join(dataDir, '.complete'))) {
      note(`generating ${s.name} (${s.count} × ${s.size} bytes) in ${dataDir} …`);
      await fsp.rm(dataDir, { recursive: true, force: true });
      if (s.id === 'H') await makeBigFile(path.join(data, 'big.dat'), s.size);
      else await makeFiles(data, s.count, s.size);
      await fsp.writeFile(path.join(dataDir, '.complete'), '');
    }
    const content = dirBytes(data);
    note(`${s.name}: ${s.count} files, ${(content / 1e6).toFixed(0)} MB (${sets.indexOf(s) + 1} of ${sets.length})`);
    const out = path.join(work, 'out');
    await fsp.rm(out, { recursive: true, force: true });
    await fsp.mkdir(out);
    // Warm the page cache through a pipe: GNU tar does not read file data when it writes to /dev/null.
    sh(`tar -cf - . | cat > /dev/null`, data);
    const row = (what: Row['what'], tool: string, m: Measured, extra: Partial<Row> = {}): Row => {
      const r: Row = { dataset: s.name, what, tool, content, ...m, ...extra };
      rows.push(r);
      console.error(
        `  ${what} ${tool}: ${m.wall.toFixed(2)} s, CPU ${m.cpu.toFixed(2)} s, ${m.peakMiB.toFixed(0)} MiB`,
      );
      return r;
    };

    // ---- backup ----
    const gnu = row('backup', 'tar -czf', await timed(`tar -czf ${q(out)}/gnu.tar.gz data`, dataDir), {
      size: statSync(path.join(out, 'gnu.tar.gz')).size,
    });
    if (have('pigz')) {
      await timed(`tar -cf - data | pigz -1 > ${q(out)}/pigz.tar.gz`, dataDir).then((m) =>
        row('backup', 'tar | pigz -1', m, { size: statSync(path.join(out, 'pigz.tar.gz')).size, ref: gnu }),
      );
      await fsp.rm(path.join(out, 'pigz.tar.gz'));
      // Not a command either: the floor under any backup that reads its copy back, in stock C tools on every core:
      // pack and compress, put it on the disk, then read it back from the disk (not the cache) once, hashing it and
      // listing it. No file is hashed, no manifest or header is checked, nothing is walked first.
      const f = q(path.join(out, 'floor.tar.gz'));
      await timed(
        `tar -cf - data | pigz -1 > ${f} && sync -f ${f} && dd if=${f} iflag=direct bs=1M status=none | ` +
          `bash -c 'tee >(sha256sum > /dev/null) | pigz -dc | tar -tf - > /dev/null'`,
        dataDir,
      ).then((m) =>
        row('backup', 'floor: tar | pigz -1, sync -f, read back: sha256sum, pigz -d | tar -t', m, {
          size: statSync(path.join(out, 'floor.tar.gz')).size,
          ref: gnu,
        }),
      );
      await fsp.rm(path.join(out, 'floor.tar.gz'));
    }
    if (have('zstd')) {
      await timed(`tar --zstd -cf ${q(out)}/gnu.tar.zst data`, dataDir).then((m) =>
        row('backup', 'tar --zstd', m, { size: statSync(path.join(out, 'gnu.tar.zst')).size, ref: gnu }),
      );
      await fsp.rm(path.join(out, 'gnu.tar.zst'));
    }
    const backupProfile = path.join(work, 'backup-profile.json');
    await writeProfile(backupProfile, data, pidFile);
    const stick = path.join(out, 'stick');
    const ours = await timed(
      `${node} backup --profile ${q(backupProfile)} --to ${q(stick)} --device-id bench --yes --allow-profile-commands --json`,
      work,
      true,
    );
    const devDir = path.join(stick, 'EdgeRecovery', 'bench');
    const setDir = path.join(devDir, readdirSync(devDir).find((n) => n.startsWith('Backup_'))!);
    const parts = readdirSync(setDir).filter((n) => n.startsWith('data.tar.gz'));
    const setBytes = parts.reduce((a, n) => a + statSync(path.join(setDir, n)).size, 0);
    row('backup', 'edge-recovery backup (incl. verify)', ours, { size: setBytes, ref: gnu });

    // ---- verify ----
    sh(`sha256sum gnu.tar.gz > SHA256SUMS.gnu`, out);
    sh(dropCache([path.join(out, 'gnu.tar.gz')]));
    const gv = row(
      'verify',
      'sha256sum -c + tar -tzf',
      await timed(`sha256sum -c --quiet SHA256SUMS.gnu && tar -tzf gnu.tar.gz > /dev/null`, out),
    );
    sh(dropCache(parts.map((n) => path.join(setDir, n))));
    row('verify', 'edge-recovery verify', await timed(`${node} verify ${q(setDir)} --json`, work, true), { ref: gv });

    // ---- restore ----
    // Manual recipe (RESTORE.txt, steps 1, 5, 6, 7) with our backup, into a folder holding "defaults".
    const mnt = path.join(work, 'target-fs');
    const img = path.join(work, 'target-fs.img');
    const target = path.join(mnt, 'target');
    const resetTarget = async (): Promise<void> => {
      if (freshTargetFs(img, mnt, content, s.count))
        targetFs = 'a fresh ext4 with journal (loop device with direct I/O)';
      else {
        targetFs = 'a folder on the bench folder’s filesystem';
        await fsp.rm(target, { recursive: true, force: true });
      }
      await fsp.mkdir(path.join(target, 'data'), { recursive: true });
      await fsp.writeFile(path.join(target, 'data', 'default.conf'), 'defaults\n');
    };
    await resetTarget();
    sh(dropCache(parts.map((n) => path.join(setDir, n))));
    const tq = q(target);
    const join = parts.length > 1 ? `cat data.tar.gz.[0-9][0-9][0-9]` : 'cat data.tar.gz';
    const manual = row(
      'restore',
      'sha256sum -c + tar -xzpf + chown -R + find chmod',
      await timed(
        `sha256sum -c --quiet SHA256SUMS && mkdir ${tq}/restore-tmp && ${join} | tar -xzpf - -C ${tq}/restore-tmp data` +
          ` && mv ${tq}/data ${tq}/data.before-restore && mv ${tq}/restore-tmp/data ${tq}/data` +
          ` && chown -R nobody:nogroup ${tq}/data && find ${tq}/data -type d -exec chmod 755 {} +` +
          ` && find ${tq}/data -type f -exec chmod 644 {} +`,
        setDir,
      ),
    );
    // Not part of the recipe (its ratio stays against the recipe alone): what putting its unpacked data on disk
    // costs afterwards. Ours flushes before the swap (a power cut must not leave empty files behind a committed
    // rename), inside its time.
    manual.flushAfter = await timed(`sync -f ${tq}/data`, setDir);
    console.error(`  restore: then sync -f: ${manual.flushAfter.wall.toFixed(2)} s`);
    await resetTarget();
    const restoreProfile = path.join(work, 'restore-profile.json');
    await writeProfile(restoreProfile, path.join(target, 'data'), pidFile);
    sh(dropCache(parts.map((n) => path.join(setDir, n))));
    const state = path.join(work, 'state');
    await fsp.rm(state, { recursive: true, force: true });
    try {
      row(
        'restore',
        'edge-recovery restore',
        await timed(
          `${node} restore ${q(setDir)} --profile ${q(restoreProfile)} --yes --allow-other-device --allow-profile-commands --state-dir ${q(state)} --json`,
          work,
          true,
        ),
        { ref: manual },
      );
    } finally {
      stopService(pidFile);
    }
    // Not a command either: the floor under any restore's time here (scripts/create-floor.mjs): one thread making
    // the calls a restore must make per file (open O_EXCL, write, fchown, futimes, fstat, close) and the flush, into
    // a fresh target as the restores had, nothing else. Against the recipe, it says how far one writer can go.
    await resetTarget();
    note(`  running: the floor (scripts/create-floor.mjs)`);
    const floor = spawnSync(
      process.execPath,
      [path.join(root, 'scripts/create-floor.mjs'), 'data', path.join(target, 'floor')],
      { cwd: dataDir, encoding: 'utf8' },
    );
    if (floor.status !== 0) throw new Error(`the floor failed: ${floor.stderr}`);
    // Its own clock: from its first folder to the end of its flush (the tree is listed before).
    const f = JSON.parse(floor.stdout.trim().split('\n').pop()!) as {
      seconds: number;
      cpuSeconds: number;
      peakMiB: number;
    };
    row(
      'restore',
      "floor: one thread, the restore's calls per file, sync -f",
      { wall: f.seconds, cpu: f.cpuSeconds, peakMiB: f.peakMiB },
      { ref: manual },
    );
    unmountTarget(mnt);
    await fsp.rm(img, { force: true });
    await fsp.rm(target, { recursive: true, force: true });
    await fsp.rm(out, { recursive: true, force: true });
  }
  await fsp.rm(work, { recursive: true, force: true });

  const load = os.loadavg().map((l) => l.toFixed(1));
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
  const md: string[] = [];
  md.push(
    `\`BENCH_SCALE=${scale}\`${commit ? `, commit ${commit}` : ''}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ` +
      `${Math.round(os.totalmem() / GiB)} GiB RAM, node ${process.version}, ${os.type()} ${os.release()}; ` +
      `load average at the end ${load.join(' ')}; ${pdf ? 'report PDFs printed (Chromium counted)' : 'report PDFs not printed (EDGE_RECOVERY_PDF=off)'}; restores into ${targetFs || '(none run)'}; the whole run took ${((performance.now() - benchStart) / 60000).toFixed(1)} min:`,
    '',
    '| dataset | command | wall s | CPU s | peak MiB | size ratio | speed vs stock | CPU vs stock | longest silence |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of rows) {
    const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
    const size = r.size !== undefined ? (r.size / r.content).toFixed(3) : '';
    const gap = r.maxGapMs !== undefined ? `${r.maxGapMs.toFixed(0)} ms (${r.maxGapStep})` : '';
    md.push(
      `| ${r.dataset} | ${r.what}: ${r.tool.replace(/\|/g, '\\|')} | ${r.wall.toFixed(2)} | ${r.cpu.toFixed(2)} | ${r.peakMiB.toFixed(0)} | ${size} | ` +
        `${r.ref ? ratio(r.ref.wall, r.wall) : '1.00×'} | ${r.ref ? ratio(r.ref.cpu, r.cpu) : '1.00×'} | ${gap} |`,
    );
  }
  const flushed = rows.filter((r) => r.flushAfter);
  if (flushed.length > 0) {
    md.push(
      '',
      'The manual recipe leaves its unpacked data in memory; a `sync -f` of the target right after it (not in its time) took:',
      '',
    );
    for (const m of flushed) {
      const ours = rows.find((r) => r.ref === m);
      const both = m.wall + m.flushAfter!.wall;
      md.push(
        `- ${m.dataset}: ${m.flushAfter!.wall.toFixed(2)} s (recipe + sync ${both.toFixed(2)} s` +
          `${ours ? `; ours ${(both / ours.wall).toFixed(2)}× as fast as that` : ''})`,
      );
    }
  }
  md.push('', 'Seconds per step of our commands:', '');
  for (const r of rows.filter((x) => x.steps)) {
    const st = Object.entries(r.steps!)
      .filter(([, v]) => v >= 0.01)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ');
    const down = r.downSeconds ? `; **service down ${r.downSeconds.toFixed(2)} s**` : '';
    md.push(`- ${r.dataset}, ${r.tool}: ${st}${down}`);
  }
  const text = md.join('\n') + '\n';
  const outFile = path.resolve(process.env['BENCH_OUT'] ?? path.join(root, 'bench-results.md'));
  await fsp.writeFile(outFile, text);
  console.log('\n' + text);
  note(`done; the table is in ${outFile}`);
}

if (!existsSync(path.join(root, 'dist/cli.js'))) throw new Error('run `npm run build` first (npm run bench does)');
await main();
