/**
 * The HITL workload's data and its two in-process steps, exactly as
 * /work/shared/WORKLOAD.md defines them: `makeTicket(i)` (1024 bytes of JSON),
 * `makeDecision(i)`, `draft(ticket)` (counted, so the restart trial can prove
 * it never ran again) and `apply(...)` (one INSERT into `hitl_apply_log`
 * through the harness's own postgres.js pool, outside signoff's transactions).
 * Owns the apply-log table and its check. Knows nothing of signoff.
 */
import postgres from 'postgres';

export interface Ticket {
  ticketId: string;
  customer: { id: string; name: string; tier: string };
  subject: string;
  body: string;
  tags: string[];
  priority: string;
}
export interface Draft {
  ticketId: string;
  text: string;
}
export interface Decision {
  decision: 'approve';
  editedText: string;
  by: string;
}
export interface ApplyResult {
  ticketId: string;
  status: 'replied';
  approvedBy: string;
  replyLength: number;
}

const SENTENCE = 'Customer reports that invoices exported as PDF are missing the VAT line since the last release. ';
const BODY = SENTENCE.repeat(10).slice(0, 832);
const DRAFT_TEXT = fill(
  'Thanks for reporting the missing VAT line on PDF invoices. We have reproduced it and a fix is on its way. ',
  500,
);
const EDITED_TEXT = fill(
  'Thanks for the report: the VAT line is back on PDF invoices as of today, and past invoices can be re-exported. ',
  500,
);

function fill(sentence: string, length: number): string {
  return sentence.repeat(Math.ceil(length / sentence.length)).slice(0, length);
}

export function makeTicket(i: number): Ticket {
  const ticket: Ticket = {
    ticketId: `T-${String(i).padStart(6, '0')}`,
    customer: { id: 'C-42', name: 'Acme Corp', tier: 'gold' },
    subject: 'Missing VAT line on PDF invoices',
    body: BODY,
    tags: ['billing', 'pdf', 'regression'],
    priority: 'high',
  };
  return ticket;
}

/** Asserts the workload's size contract once per process (cheap enough to keep always on). */
export function assertTicketSize(): void {
  for (const i of [0, 1, 999_999]) {
    const bytes = Buffer.byteLength(JSON.stringify(makeTicket(i)));
    if (bytes !== 1024) throw new Error(`makeTicket(${i}) is ${bytes} bytes of JSON; the workload says 1024`);
  }
  if (DRAFT_TEXT.length !== 500 || EDITED_TEXT.length !== 500)
    throw new Error('draft and edited texts must be 500 characters');
}

export function makeDecision(_i: number): Decision {
  return { decision: 'approve', editedText: EDITED_TEXT, by: 'U123' };
}

/** A run id: `<tag>-<phase>-000123`. */
export function runId(tag: string, phase: string, i: number): string {
  return `${tag}-${phase}-${String(i).padStart(6, '0')}`;
}

export interface Steps {
  draft: (ticket: Ticket) => Promise<Draft>;
  apply: (runId: string, draft: Draft, decision: Decision) => Promise<ApplyResult>;
  /** How many times `draft` ran in this process. */
  readonly draftCalls: () => number;
  readonly applyCalls: () => number;
  close(): Promise<void>;
}

/** The harness's two steps, with `apply` writing through its own pool (max 10). */
export function makeSteps(databaseUrl: string): Steps {
  const pool = postgres(databaseUrl, { max: 10, onnotice: () => {}, connection: { application_name: 'hitl-harness' } });
  let drafts = 0;
  let applies = 0;
  return {
    draft: async (ticket) => {
      drafts++;
      return { ticketId: ticket.ticketId, text: DRAFT_TEXT };
    },
    apply: async (id, draft, decision) => {
      applies++;
      await pool`INSERT INTO hitl_apply_log (run_id, decision, pid) VALUES (${id}, ${decision.decision}, ${process.pid})`;
      return {
        ticketId: draft.ticketId,
        status: 'replied',
        approvedBy: decision.by,
        replyLength: decision.editedText.length,
      };
    },
    draftCalls: () => drafts,
    applyCalls: () => applies,
    close: () => pool.end({ timeout: 5 }),
  };
}

/** Creates the apply log in a fresh database. */
export async function createApplyLog(databaseUrl: string): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`CREATE TABLE IF NOT EXISTS hitl_apply_log (
      seq bigserial PRIMARY KEY, run_id text NOT NULL, decision text NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT now())`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export interface ApplyLogCheck {
  rows: number;
  runs: number;
  duplicates: number;
  ok: boolean;
}

/** Exactly one apply row per run for runs whose id starts with `prefix`. */
export async function checkApplyLog(databaseUrl: string, prefix: string, expected: number): Promise<ApplyLogCheck> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ rows: number; runs: number }[]>`
      SELECT count(*)::int AS rows, count(DISTINCT run_id)::int AS runs
      FROM hitl_apply_log WHERE starts_with(run_id, ${prefix})`;
    const rows = row?.rows ?? 0;
    const runs = row?.runs ?? 0;
    return { rows, runs, duplicates: rows - runs, ok: rows === expected && runs === expected };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
