/**
 * What the weekly digest's steps may call (ctx.services.reports): its scopes
 * and figures (SQL in src/store/digest.ts) and the post of the finished
 * message with its chart. A flow cannot reach the database or a chat platform
 * itself (flows import only src/authoring), so these are services like models
 * and tools: scoped to the step, keyed by its idempotency key.
 */
import type { ChatPort, Notice } from '../chat/port.ts';
import { SignoffError } from '../errors.ts';
import type { Db } from '../store/client.ts';
import { readDigest, readDigestScopes } from '../store/digest.ts';
import { chartPng, chartText } from './digest/chart.ts';
import { buildDigest, type Digest } from './digest/figures.ts';
import { digestText, formatDuration, type DigestWords } from './digest/text.ts';

export type { Digest } from './digest/figures.ts';
export type { DigestWords } from './digest/text.ts';

/** One workspace and channel a digest covers, on one platform. */
export interface DigestTarget {
  tenant: string;
  platform: string;
  channel: string;
}

/** Who sees a posted digest: the channel, or only `user` (a preview, as a direct message). */
export interface DigestAudience {
  previewFor?: string;
}

export interface ReportServices {
  /** The channels with review activity in the two weeks before `endAt` (ISO). */
  digestTargets(endAt: string): Promise<DigestTarget[]>;
  /** The figures of one channel for the 7 days before `endAt` against the 7 before. */
  digest(target: DigestTarget, endAt: string, timezone: string): Promise<Digest>;
  /** Posts the digest with its chart (the text fallback where no image can go). */
  postDigest(
    digest: Digest,
    words: DigestWords,
    audience: DigestAudience,
    opts: { idempotencyKey: string },
  ): Promise<void>;
}

export interface ReportOptions {
  sql: Db;
  /** The chat ports by platform; without the digest's platform, posting fails permanently. */
  ports: ReadonlyMap<string, ChatPort>;
  /**
   * The one tenant a platform's port serves, where known (the web chat: `local`): a
   * scheduled digest covers only those, so one workspace's figures never reach another's channel.
   */
  tenants?: ReadonlyMap<string, string>;
}

export function createReportServices(o: ReportOptions): ReportServices {
  return {
    digestTargets: async (endAt) =>
      (await readDigestScopes(o.sql, parseInstant(endAt))).filter(
        (t) => o.ports.has(t.platform) && (o.tenants?.get(t.platform) ?? t.tenant) === t.tenant,
      ),
    digest: async (target, endAt, timezone) => {
      const scope = { tenant: target.tenant, channel: target.channel, endAt: parseInstant(endAt), timezone };
      return buildDigest(await readDigest(o.sql, scope), { ...scope, platform: target.platform });
    },
    postDigest: async (digest, words, audience, opts) => {
      const port = o.ports.get(digest.scope.platform);
      if (!port)
        throw new SignoffError('step_failed', `no chat platform "${digest.scope.platform}" is connected`, {
          details: { retryable: false },
        });
      const notice = digestNotice(digest, words);
      if (audience.previewFor) await port.notifyUser(digest.scope.tenant, audience.previewFor, notice, opts);
      else await port.postMessage(digest.scope.channel, notice, opts);
    },
  };
}

/** The message: text that says the chart is attached, and the chart with its Unicode-bar fallback. */
export function digestNotice(digest: Digest, words: DigestWords): Notice {
  const bars = chartText(digest.days, formatDuration);
  const png = chartPng(digest.days, `Decisions per day · ${digest.scope.channel}`);
  return {
    text: digestText(digest, words),
    image: {
      pngBase64: png.toString('base64'),
      filename: 'weekly-digest.png',
      fallbackText: bars,
      alt: `Decisions per day in ${digest.scope.channel} from ${digest.scope.from.slice(0, 10)} to ${digest.scope.endAt.slice(0, 10)}, by outcome, with the median time to decision`,
    },
  };
}

function parseInstant(iso: string): Date {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime()))
    throw new SignoffError('step_failed', `not a time: "${iso}"`, { details: { retryable: false } });
  return at;
}
