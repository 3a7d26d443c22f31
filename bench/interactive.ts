/**
 * What a person waits for (issue 10): the running bot, driven through the web
 * chat's own HTTP API and its live stream, as the page does. Two figures, one
 * sample at a time on an otherwise idle bot (offline model, fresh database):
 *
 *   command -> card: from POST /api/command `run ticket-triage …` until the
 *     live stream carries that run's review card;
 *   edit -> card:    from POST /api/submission (Edit → Save) until the stream
 *     carries the card at its new version.
 *
 * Each sample is a person's whole wait, including every job and wake-up in
 * between: a lost wake-up shows as a sample near WORKER_POLL_MS (5 s).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { startBot, stopBot, type Bot } from './bot.ts';
import { dropDatabase, freshDatabase } from './db.ts';
import { latency, type Latency } from './phases.ts';

const DATABASE = 'peer_signoff_interactive';
const SCHEMA = 'signoff';
const CHANNEL = 'support';
/** Issue 10's target for both waits. */
const TARGET_P99_MS = 300;
const SAMPLE_DEADLINE_MS = 30_000;

export interface InteractiveResult {
  samples: number;
  commandToCard: Latency;
  editToCard: Latency;
  targetP99Ms: number;
  isMet: boolean;
  ok: boolean;
  problems: string[];
}

interface CardEvent {
  reviewRef: string;
  version: number;
  title: string;
  status: string;
}

export async function interactiveTrial(
  serverUrl: string,
  samples: number,
  progress: (m: string) => void,
): Promise<InteractiveResult> {
  const dbUrl = await freshDatabase(serverUrl, DATABASE);
  let bot: Bot | null = null;
  const stream = new AbortController();
  try {
    bot = await startBot(dbUrl, SCHEMA, { OPENAI_API_KEY: '', OPENAI_BASE_URL: '', ZENDESK_URL: '' });
    const cards = await openLiveStream(bot.url, stream.signal);
    const toCard: number[] = [];
    const toEdit: number[] = [];
    progress(`interactive: ${samples} commands and ${samples} edits through the web chat, one at a time`);
    // One unmeasured warm-up: a running bot has compiled its paths.
    for (let i = -1; i < samples; i++) {
      const title = `Reply to "Interactive ${i} ${randomUUID().slice(0, 8)}"`;
      const subject = title.slice('Reply to "'.length, -1);
      const t0 = performance.now();
      await call(bot, '/api/command', {
        user: 'alice',
        channel: CHANNEL,
        text: `run ticket-triage subject="${subject}" body="The parcel arrived damaged."`,
      });
      const card = await cards.next((c) => c.title === title && c.status === 'pending');
      const t1 = performance.now();
      await call(bot, '/api/action', {
        user: 'bob',
        channel: CHANNEL,
        messageRef: card.ref,
        reviewRef: card.reviewRef,
        action: 'edit',
        version: card.version,
      });
      const t2 = performance.now();
      await call(bot, '/api/submission', {
        user: 'bob',
        purpose: 'edit',
        reviewRef: card.reviewRef,
        version: card.version,
        fields: { reply: `Edited reply ${i}: we are sending a new one.` },
      });
      await cards.next((c) => c.reviewRef === card.reviewRef && c.version === card.version + 1);
      const t3 = performance.now();
      if (i >= 0) {
        toCard.push(t1 - t0);
        toEdit.push(t3 - t2);
      }
    }
    const commandToCard = latency(toCard);
    const editToCard = latency(toEdit);
    const isMet = commandToCard.p99 <= TARGET_P99_MS && editToCard.p99 <= TARGET_P99_MS;
    return { samples, commandToCard, editToCard, targetP99Ms: TARGET_P99_MS, isMet, ok: true, problems: [] };
  } finally {
    stream.abort();
    await stopBot(bot);
    await dropDatabase(serverUrl, DATABASE);
  }
}

async function call(bot: Bot, path: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${bot.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, deliveryId: randomUUID() }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${text.slice(0, 300)}`);
}

/** The page's live stream (GET /api/events), as a queue of the cards it carries. */
async function openLiveStream(url: string, signal: AbortSignal) {
  const res = await fetch(`${url}/api/events`, { signal });
  if (res.status !== 200 || !res.body) throw new Error(`/api/events answered ${res.status}`);
  type Seen = CardEvent & { ref: string };
  const seen: Seen[] = [];
  let notify = null as (() => void) | null;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (!frame.includes('event: message') || !data) continue;
          const { message } = JSON.parse(data.slice(6)) as { message: { kind: string; ref: string; card?: any } };
          if (message.kind !== 'card') continue;
          const c = message.card;
          seen.push({
            ref: message.ref,
            reviewRef: c.reviewRef,
            version: c.version,
            title: c.title,
            status: c.status.kind,
          });
          notify?.();
        }
      }
    } catch {
      // aborted at the end of the trial
    }
  })();
  return {
    /** The first card event (since the last match) that satisfies `test`. */
    async next(test: (c: Seen) => boolean): Promise<Seen> {
      const deadline = performance.now() + SAMPLE_DEADLINE_MS;
      for (;;) {
        const i = seen.findIndex(test);
        if (i >= 0) return seen.splice(0, i + 1).at(-1)!;
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`the live stream carried no matching card in ${SAMPLE_DEADLINE_MS / 1000} s`);
        await new Promise<void>((r) => {
          notify = r;
          setTimeout(r, left);
        });
        notify = null;
      }
    },
  };
}
