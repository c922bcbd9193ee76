import { create } from 'zustand';
import type { RecoveryApi, TicketView } from '../../src-main/shared/contract.js';

/** Limits as the engine's (engine/report/ticket.ts TICKET_MAX); the host checks again. */
export const TICKET_MAX = { number: 64, site: 120, technician: 80 } as const;
export type TicketKey = keyof typeof TICKET_MAX;
export const TICKET_KEYS: TicketKey[] = ['number', 'site', 'technician'];

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** One line as the host accepts it: control characters (a pasted tab or line break) become spaces, trimmed, cut. */
export function cleanTicketValue(key: TicketKey, v: string): string {
  return [...v.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim()].slice(0, TICKET_MAX[key]).join('');
}

interface TicketState {
  values: TicketView;
  /** Asked from the host once per page: the values remembered from the last job ('ready' once answered). */
  status: 'idle' | 'loading' | 'ready';
  load(api: RecoveryApi): Promise<void>;
  set(key: TicketKey, value: string): void;
}

/**
 * Ticket number, site and technician for the report: asked once (prefilled from the host's remembered values),
 * carried from the backup to the restore of the same visit, sent with every job start and remembered by the host.
 */
export const useTicket = create<TicketState>((set, get) => ({
  values: {},
  status: 'idle',
  async load(api) {
    if (get().status !== 'idle') return;
    set({ status: 'loading' });
    try {
      const v = await api.invoke('ticket.get', {});
      // Typed before the answer came: the technician's own values win.
      if (Object.keys(get().values).length === 0) set({ values: v });
    } catch {
      // Nothing remembered (or an older host): the fields start empty.
    }
    set({ status: 'ready' });
  },
  set(key, value) {
    set({ values: { ...get().values, [key]: value } });
  },
}));

/** What a job start sends: every field cleaned, empty ones left out (the host then forgets them). */
export function ticketForStart(values: TicketView = useTicket.getState().values): TicketView {
  const out: TicketView = {};
  for (const k of TICKET_KEYS) {
    const v = cleanTicketValue(k, values[k] ?? '');
    if (v !== '') out[k] = v;
  }
  return out;
}
