/**
 * The weekly digest at scale (issue 14): seeds `runs` runs over four weeks with
 * their reviews, review jobs, audit rows and model calls (set-based INSERTs,
 * spread over 50 workspaces and 10 channels, with one busy channel), then times
 * building one digest of the busy channel (every section's query plus the
 * figures; the chart separately) and prints each query's plan: which indexes it
 * reads, and whether any table is scanned whole. Target: under 1 s on 2 cores.
 */
import postgres from 'postgres';
import { migrate } from '../src/store/migrate.ts';
import { connect } from '../src/store/client.ts';
import { readDigest } from '../src/store/digest.ts';
import { chartPng } from '../src/steps/digest/chart.ts';
import { buildDigest } from '../src/steps/digest/figures.ts';
import { freshDatabase } from './db.ts';

const DATABASE = 'peer_signoff_digest';
const SCHEMA = 'signoff';
const TARGET_MS = 1_000;
const SAMPLES = 5;
const END_AT = new Date('2026-11-30T08:00:00Z');
const BUSY = { tenant: 'T0', channel: 'c0' };

export interface DigestBenchResult {
  ok: boolean;
  runs: number;
  /** Median of SAMPLES builds of the figures (all sections), ms. */
  buildMs: number;
  chartMs: number;
  plans: { query: string; indexes: string[]; seqScans: string[]; ms: number }[];
}

export async function digestTrial(
  serverUrl: string,
  runs: number,
  progress: (msg: string) => void,
): Promise<DigestBenchResult> {
  const url = await freshDatabase(serverUrl, DATABASE);
  const sql = connect({ url, schema: SCHEMA, statementTimeoutMs: 600_000 });
  try {
    await migrate(sql, SCHEMA);
    progress(`digest: seeding ${runs} runs with reviews, decisions and model calls`);
    await seed(sql, runs);
    await sql`ANALYZE`;
    const scope = { ...BUSY, endAt: END_AT, timezone: 'Europe/Berlin' };
    await readDigest(sql, scope); // warm the cache once, as a weekly job would find it after a week of use
    const times: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const started = performance.now();
      buildDigest(await readDigest(sql, scope), { ...scope, platform: 'console' });
      times.push(performance.now() - started);
    }
    const digest = buildDigest(await readDigest(sql, scope), { ...scope, platform: 'console' });
    const chartStarted = performance.now();
    chartPng(digest.days, 'bench');
    const chartMs = performance.now() - chartStarted;
    const plans = await explainAll(url, scope);
    const buildMs = times.sort((a, b) => a - b)[Math.floor(SAMPLES / 2)]!;
    return { ok: buildMs < TARGET_MS && plans.every((p) => p.seqScans.length === 0), runs, buildMs, chartMs, plans };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Each section's query as postgres.js sent it (its `debug` hook), run again under EXPLAIN ANALYZE. */
async function explainAll(url: string, scope: Parameters<typeof readDigest>[1]): Promise<DigestBenchResult['plans']> {
  const seen: { query: string; params: unknown[] }[] = [];
  const traced = postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { search_path: SCHEMA },
    types: { bigint: postgres.BigInt },
    debug: (_conn, query, params) => void seen.push({ query, params }),
  });
  try {
    await readDigest(traced, scope);
    const plans = [];
    // postgres.js's own type lookup (pg_catalog) is not ours.
    for (const { query, params } of seen.filter(
      (s) => /^\s*(WITH|SELECT)/i.test(s.query) && !s.query.includes('pg_catalog'),
    )) {
      const [row] = await traced.unsafe(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${query}`,
        params as postgres.ParameterOrJSON<never>[],
      );
      const plan = (row as Record<string, any>)['QUERY PLAN'][0];
      const nodes = flatten(plan.Plan);
      plans.push({
        query: query.replace(/\s+/g, ' ').trim().slice(0, 70),
        indexes: [...new Set(nodes.filter((n) => n['Index Name']).map((n) => String(n['Index Name'])))],
        // A whole-table read of a big table; small helper relations (generate_series, CTEs) are not tables.
        seqScans: nodes.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => String(n['Relation Name'])),
        ms: Number(plan['Execution Time']),
      });
    }
    return plans;
  } finally {
    await traced.end({ timeout: 5 });
  }
}

function flatten(node: Record<string, any>): Record<string, any>[] {
  return [node, ...((node.Plans ?? []) as Record<string, any>[]).flatMap(flatten)];
}

/**
 * Four weeks of work ending at END_AT: run g belongs to tenant T(g % 50) and
 * channel c(g % 10), so T0/c0 holds about 1 run in 50; each run has one review
 * (mostly decided), its review job, an audit row per decision, a refusal now and
 * then, and two model calls.
 */
async function seed(sql: postgres.Sql, runs: number): Promise<void> {
  const end = END_AT.toISOString();
  await sql`
    INSERT INTO runs (id, flow, flow_version, status, snapshot, input, trigger, version, created_at, updated_at)
    SELECT 'b' || g, (ARRAY['ticket-triage', 'refund', 'crm-update'])[1 + g % 3], 'v1', 'done', '{}', '{}',
           jsonb_build_object('source', 'console', 'tenant', 'T' || (g % 50), 'channel', 'c' || (g % 10), 'actor', 'u' || (g % 7)),
           1, ${end}::timestamptz - (g % 2419200) * interval '1 second', ${end}::timestamptz - (g % 2419200) * interval '1 second'
    FROM generate_series(1, ${runs}) g`;
  await sql`
    INSERT INTO reviews (id, run_id, flow, job_key, name, tenant, platform, channel, requested_by, policy, request, content, content_sha256,
                         version, status, decisions, is_escalated, decided_at, created_at, updated_at)
    SELECT 'r' || g, 'b' || g, r.flow, 'b' || g || ':review:2', 'review', r.trigger->>'tenant', 'console', r.trigger->>'channel', 'u1', '{}',
           jsonb_build_object('title', 'Reply ' || g), jsonb_build_object('reply', 'approved reply number ' || g),
           'sha', 1 + (g % 4 = 0)::int, s.status,
           CASE WHEN s.status = 'rejected' THEN jsonb_build_array(jsonb_build_object('reviewer', 'u' || (g % 7), 'decision', 'reject', 'version', 1, 'reason', 'tone is off'))
                ELSE '[]' END,
           g % 17 = 0, CASE WHEN s.status IN ('approved', 'rejected', 'expired') THEN r.created_at + (60 + g % 7200) * interval '1 second' END,
           r.created_at, r.created_at
    FROM generate_series(1, ${runs}) g JOIN runs r ON r.id = 'b' || g
    CROSS JOIN LATERAL (SELECT (ARRAY['approved', 'approved', 'approved', 'approved', 'approved', 'approved', 'rejected', 'expired', 'pending', 'cancelled'])[1 + g % 10] AS status) s`;
  await sql`
    INSERT INTO jobs (key, run_id, flow, kind, name, input, status, max_attempts, lease_ms, due_at)
    SELECT job_key, run_id, flow, 'review', 'review', jsonb_build_object('content', jsonb_build_object('reply', 'first draft number ' || id)),
           CASE WHEN status = 'pending' THEN 'waiting' ELSE 'done' END, 10, 30000, created_at
    FROM reviews`;
  await sql`
    INSERT INTO review_audit (review_id, seq, run_id, tenant, actor, action, outcome, version, content_sha256, at, prev_hash, hash)
    SELECT id, 1, run_id, tenant, 'u' || (abs(hashtext(id)) % 7), CASE WHEN status = 'rejected' THEN 'reject' ELSE 'approve' END, 'accepted', 1, 'sha', decided_at, 'x', 'y'
    FROM reviews WHERE status IN ('approved', 'rejected')
    UNION ALL
    SELECT id, 2, run_id, tenant, 'u9', 'approve', (ARRAY['denied:self_approval', 'denied:not_allowed', 'denied:stale_version'])[1 + abs(hashtext(id)) % 3], 1, 'sha',
           created_at + interval '30 seconds', 'x', 'y'
    FROM reviews WHERE abs(hashtext(id)) % 20 = 0`;
  await sql`
    INSERT INTO model_calls (run_id, job_key, attempt, call_no, model, outcome, input_tokens, output_tokens, cost_usd, at)
    SELECT id, id || ':draft:' || n, 1, 0, 'gpt-4.1', 'ok', 1000, 300, 0.0044, created_at + n * interval '2 seconds'
    FROM runs CROSS JOIN generate_series(1, 2) n`;
}

export function formatDigestBench(r: DigestBenchResult): string {
  const lines = [
    `weekly digest over ${r.runs.toLocaleString('en-US')} runs: built in ${r.buildMs.toFixed(0)} ms (target < ${TARGET_MS} ms), chart ${r.chartMs.toFixed(0)} ms — ${r.ok ? 'ok' : 'FAILED'}`,
    ...r.plans.map(
      (p) =>
        `  ${p.ms.toFixed(1).padStart(7)} ms  ${p.indexes.join(', ') || '(no index)'}${p.seqScans.length ? `  SEQ SCAN ${p.seqScans.join(', ')}` : ''}  · ${p.query}`,
    ),
  ];
  return lines.join('\n');
}
