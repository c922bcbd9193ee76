/** What a screen shows when something failed: the engine's code, message and hint — never a stack. */
export interface UiError {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
  /** The engine's wizard wording (no command names or flags), shown instead of message and hint. */
  ui?: { message?: string; hint?: string };
}

/** What the wizard shows: the engine's wizard wording where it gave one, its plain message and hint otherwise. */
export function wizardWords(e: UiError): { message: string; hint?: string } {
  const message = e.ui?.message ?? e.message;
  const hint = e.ui?.hint ?? e.hint;
  return hint === undefined ? { message } : { message, hint };
}

/**
 * Normalises whatever a request threw (a RecoveryApiError from the bridge, or its plain copy: Electron's
 * contextBridge strips class identity). Matching by shape rather than `instanceof` also keeps the contract's
 * zod schemas out of the renderer bundle. Anything else becomes INTERNAL with its first line only.
 */
export function toUiError(e: unknown): UiError {
  if (typeof e === 'object' && e !== null) {
    const o = e as { code?: unknown; message?: unknown; hint?: unknown; details?: unknown; ui?: unknown };
    const message = typeof o.message === 'string' && o.message ? firstLine(o.message) : 'Something went wrong.';
    const code = typeof o.code === 'string' && /^[A-Z_]+$/.test(o.code) ? o.code : 'INTERNAL';
    const details =
      typeof o.details === 'object' && o.details !== null ? (o.details as Record<string, unknown>) : undefined;
    const out = withOptional({ code, message }, typeof o.hint === 'string' ? o.hint : undefined, details);
    if (typeof o.ui === 'object' && o.ui !== null) {
      const u = o.ui as { message?: unknown; hint?: unknown };
      const ui: NonNullable<UiError['ui']> = {};
      if (typeof u.message === 'string') ui.message = firstLine(u.message);
      if (typeof u.hint === 'string') ui.hint = u.hint;
      out.ui = ui;
    }
    return out;
  }
  return { code: 'INTERNAL', message: typeof e === 'string' ? firstLine(e) : 'Something went wrong.' };
}

function withOptional(base: UiError, hint: string | undefined, details: Record<string, unknown> | undefined): UiError {
  const out: UiError = { ...base };
  if (hint) out.hint = hint;
  if (details) out.details = details;
  return out;
}

// Stack traces start on the second line; the technician only ever sees the first.
function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}
