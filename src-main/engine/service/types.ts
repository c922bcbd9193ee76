export type ServiceState = 'running' | 'stopped' | 'starting' | 'stopping' | 'not-found' | 'unknown';

export interface ServiceStatus {
  state: ServiceState;
  pid?: number;
  /** What the service manager said, in its own words (shown to the technician). */
  detail: string;
}

export interface ServiceControl {
  /** How the service is named to the technician ("runit service /etc/service/eds"). */
  readonly label: string;
  status(): Promise<ServiceStatus>;
  /** Asks the service manager to stop the service and waits as far as the manager itself waits. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Polls until the state is reached; SERVICE_TIMEOUT (with the last status) otherwise. */
  waitFor(state: 'running' | 'stopped', timeoutMs: number, signal?: AbortSignal): Promise<ServiceStatus>;
}

export interface ExecResult {
  /** Exit code; 127 when the program does not exist. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell. Never rejects for a non-zero exit: adapters read the code. */
export type ExecFn = (file: string, args: string[], opts?: { timeoutMs?: number }) => Promise<ExecResult>;

export interface ServiceDeps {
  exec?: ExecFn;
  /** Asks the technician (manual service manager); resolves false when they decline. */
  confirm?: (message: string) => Promise<boolean>;
  /** Poll interval of waitFor; tests shorten it. */
  pollMs?: number;
}
