import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SyslogSink {
  /** Unix datagram socket to pass to `logger --socket` (what /dev/log is for journald). */
  socket: string;
  /** Every datagram received so far (RFC 3164 lines as logger sends them). */
  lines(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * A private syslog socket: journald is not running here (PID 1 is not systemd), so a tiny python3 receiver
 * binds a Unix datagram socket like /dev/log and writes what logger(1) sends, one line per datagram.
 */
export async function startSyslogSink(): Promise<SyslogSink> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'syslog-'));
  const socket = path.join(dir, 'log.sock');
  const out = path.join(dir, 'received.txt');
  const py = [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.bind(sys.argv[1])',
    'f = open(sys.argv[2], "ab", buffering=0)',
    'while True:',
    '    d = s.recv(65536)',
    '    f.write(d.replace(b"\\n", b" ") + b"\\n")',
  ].join('\n');
  const child: ChildProcess = spawn('python3', ['-c', py, socket, out], { stdio: 'ignore' });
  for (let i = 0; i < 600 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(socket)) {
    child.kill('SIGKILL');
    throw new Error('the python3 syslog receiver did not start (is python3 installed?)');
  }
  return {
    socket,
    lines: async () => (await fsp.readFile(out, 'utf8').catch(() => '')).split('\n').filter(Boolean),
    stop: async () => {
      child.kill('SIGKILL');
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}
