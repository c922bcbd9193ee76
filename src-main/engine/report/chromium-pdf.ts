import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { RecoveryError } from '../errors.js';
import { childEnv } from '../util/child-env.js';
import { removeTreeNoFollow } from '../util/safe-delete.js';
import { gidForGroup, uidForUser } from '../util/system-users.js';
import { PAPER_INCHES, type PdfPrinter, type PdfRequest } from './pdf.js';

/** Where Debian, Ubuntu and Fedora put Chromium (the first avoids Debian's wrapper script); Chrome as a last resort. */
export const CHROMIUM_CANDIDATES = [
  '/usr/lib/chromium/chromium',
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/lib64/chromium-browser/chromium-browser',
  '/usr/bin/google-chrome',
];

export function findChromium(candidates = CHROMIUM_CANDIDATES): string | null {
  if (process.platform !== 'linux') return null;
  return candidates.find((p) => existsSync(p)) ?? null;
}

/** Fixed flags: headless, no network features, no extensions, DevTools over the inherited pipe only (no port). */
function argv(userDataDir: string): string[] {
  return [
    '--headless',
    '--remote-debugging-pipe',
    `--user-data-dir=${userDataDir}`,
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-gpu',
    '--disable-extensions',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-features=Translate,MediaRouter,OptimizationHints',
    '--mute-audio',
    'about:blank',
  ];
}

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void };

/** DevTools protocol over `--remote-debugging-pipe`: JSON messages ended by NUL on fds 3 (to it) and 4 (from it). */
class PipeSession {
  private id = 0;
  private buf = '';
  private readonly pending = new Map<number, Pending>();
  private closedError: Error | null = null;

  constructor(
    private readonly out: Writable,
    input: Readable,
  ) {
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      this.buf += chunk;
      for (let i = this.buf.indexOf('\0'); i >= 0; i = this.buf.indexOf('\0')) {
        const text = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        let m: { id?: number; result?: Record<string, unknown>; error?: { message?: string } };
        try {
          m = JSON.parse(text) as typeof m;
        } catch {
          continue;
        }
        if (typeof m.id !== 'number') continue;
        const p = this.pending.get(m.id);
        if (!p) continue;
        this.pending.delete(m.id);
        if (m.error) p.reject(new Error(m.error.message ?? 'DevTools error'));
        else p.resolve(m.result ?? {});
      }
    });
  }

  fail(e: Error): void {
    this.closedError ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  }
}

export interface ChromiumPdfOptions {
  executable: string;
  /** Give up after this long (default 60 s): a report is never worth a hanging job. */
  timeoutMs?: number;
}

/**
 * Who Chromium runs as: root's Chromium would need `--no-sandbox`; instead it runs as `nobody` with its sandbox on.
 * It only ever sees the page's text through the pipe (no file of ours, no stick), and hands back the PDF bytes,
 * which this process writes with the same O_EXCL/O_NOFOLLOW helpers as the HTML.
 */
function runAs(): { uid: number; gid: number } | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const uid = uidForUser('nobody');
  const gid = gidForGroup('nogroup') ?? gidForGroup('nobody');
  if (uid === undefined || gid === undefined) {
    throw new RecoveryError('INTERNAL', 'There is no "nobody" account to run Chromium as, so no PDF was made.');
  }
  return { uid, gid };
}

/**
 * A PDF printer on the machine's own Chromium, for the CLI and `serve` (no Electron there): started with a fixed
 * argument list (no shell), the minimal child environment (no secret of ours), a fresh profile folder, JavaScript
 * off, and the page loaded from memory. Nothing is fetched: the report's CSP is `default-src 'none'`.
 */
export function chromiumPdfPrinter(opts: ChromiumPdfOptions): PdfPrinter {
  return async (req: PdfRequest) => {
    const who = runAs();
    const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-pdf-'));
    let child: ChildProcess | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      if (who) await fsp.chown(home, who.uid, who.gid);
      await fsp.chmod(home, 0o700);
      child = spawn(opts.executable, argv(home), {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
        env: childEnv({ HOME: home, TMPDIR: home }),
        cwd: home,
        ...(who ? { uid: who.uid, gid: who.gid } : {}),
      });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        if (stderr.length < 4000) stderr += d.toString();
      });
      const toChromium = child.stdio[3] as Writable;
      const fromChromium = child.stdio[4] as Readable;
      // A Chromium that dies mid-write must not take this process down with an EPIPE: the exit handler reports it.
      toChromium.on('error', () => undefined);
      fromChromium.on('error', () => undefined);
      const session = new PipeSession(toChromium, fromChromium);
      const died = new Promise<never>((_, reject) => {
        child!.once('error', (e) => reject(e));
        child!.once('exit', (code, signal) => {
          const e = new Error(
            `Chromium ended (${signal ?? `exit ${code}`}) before the PDF was made: ${stderr.trim().split('\n').pop() ?? ''}`,
          );
          session.fail(e);
          reject(e);
        });
      });
      died.catch(() => undefined);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('Chromium took too long to make the PDF.')),
          opts.timeoutMs ?? 60_000,
        );
      });
      const work = (async () => {
        const { targetId } = (await session.send('Target.createTarget', { url: 'about:blank' })) as {
          targetId: string;
        };
        const { sessionId } = (await session.send('Target.attachToTarget', { targetId, flatten: true })) as {
          sessionId: string;
        };
        await session.send('Emulation.setScriptExecutionDisabled', { value: true }, sessionId);
        await session.send('Emulation.setEmulatedMedia', { media: 'print' }, sessionId);
        const { frameTree } = (await session.send('Page.getFrameTree', {}, sessionId)) as {
          frameTree: { frame: { id: string } };
        };
        await session.send('Page.setDocumentContent', { frameId: frameTree.frame.id, html: req.html }, sessionId);
        const paper = PAPER_INCHES[req.paper];
        const { data } = (await session.send(
          'Page.printToPDF',
          {
            displayHeaderFooter: true,
            headerTemplate: req.headerTemplate,
            footerTemplate: req.footerTemplate,
            printBackground: true,
            paperWidth: paper.width,
            paperHeight: paper.height,
            marginTop: req.margins.top,
            marginBottom: req.margins.bottom,
            marginLeft: req.margins.left,
            marginRight: req.margins.right,
          },
          sessionId,
        )) as { data: string };
        await session.send('Browser.close').catch(() => undefined);
        return Buffer.from(data, 'base64');
      })();
      const pdf = await Promise.race([work, died, timeout]);
      if (pdf.subarray(0, 5).toString('latin1') !== '%PDF-') throw new Error('Chromium did not return a PDF.');
      return new Uint8Array(pdf);
    } finally {
      if (timer) clearTimeout(timer);
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      }
      // The folder is nobody's, and so is anything else running as nobody: it may swap what is in it for links
      // while root deletes it. Deleted by descriptor, never following a link.
      try {
        removeTreeNoFollow(home);
      } catch {
        // what is left is nobody's in the temp folder, and deleting it is not worth failing the report
      }
    }
  };
}

/**
 * The CLI's and `serve`'s printer: Chromium if installed, unless EDGE_RECOVERY_PDF=off (then HTML and JSON only,
 * and the technician prints the HTML to PDF in a browser).
 */
export function defaultCliPdfPrinter(env: NodeJS.ProcessEnv = process.env): PdfPrinter | null {
  if ((env.EDGE_RECOVERY_PDF ?? '').toLowerCase() === 'off') return null;
  const exe = findChromium();
  return exe === null ? null : chromiumPdfPrinter({ executable: exe });
}
