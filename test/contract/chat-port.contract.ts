/**
 * The chat-port contract (RELIABILITY E, cases 45–61): every adapter runs this
 * suite through its own wire protocol (`chatPortContract(name, makeDriver)`), so
 * Slack and Discord inherit the review guarantees the console proves first. The
 * suite deploys the real engine and review desk on real Postgres around the
 * adapter, drives clicks and dialogs the way the platform would deliver them,
 * and asserts on what the platform shows and on rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReviewAction } from '../../src/chat/messages.ts';
import type { ActionReply, ChatPort, CommandReply, EditorForm, SubmissionReply } from '../../src/chat/port.ts';
import { Engine, type ServicesFactory } from '../../src/engine/engine.ts';
import type { Flow } from '../../src/engine/flow.ts';
import type { Metrics } from '../../src/ops/metrics.ts';
import { ReviewDesk, type DeskOptions } from '../../src/review/desk.ts';
import type { Sql } from '../../src/store/client.ts';
import { readAudit, verifyAuditChain } from '../../src/store/reviews.ts';
import { handleCommand, makeCommandDeps } from '../../src/triggers/commands.ts';
import { useTestDb } from '../helpers/db.ts';
import { contractFlows } from './review-flows.ts';

/** A card as the platform displays it. */
export interface SeenCard {
  messageRef: string;
  reviewRef: string;
  runId: string;
  version: number;
  status: string;
  actions: string[];
  statusText: string;
  body: string;
  diff: { before: string; after: string } | null;
  proposed: { name: string; old: string | null; new: string }[];
  /** Every visible text of the card, joined: for "is it shown verbatim" checks. */
  allText: string;
}

export interface ClickOptions {
  deliveryId?: string;
  reviewRef?: string;
  version?: number;
}

/** Drives one adapter the way its platform would. */
export interface PlatformDriver {
  port: ChatPort;
  tenant: string;
  /** Channel where runs are started. */
  channel: string;
  command(user: string, channel: string, text: string): Promise<CommandReply>;
  click(user: string, card: SeenCard, action: ReviewAction, opts?: ClickOptions): Promise<ActionReply>;
  submit(
    user: string,
    form: EditorForm,
    fields: Record<string, string>,
    opts?: { deliveryId?: string },
  ): Promise<SubmissionReply>;
  cards(channel: string): Promise<SeenCard[]>;
  /** Texts of the thread under a message, with mentions as `@id`. */
  thread(messageRef: string): Promise<string[]>;
  dms(user: string): Promise<string[]>;
  setGroups(user: string, groups: string[]): Promise<void>;
  /** Deletes a posted message as a person in the channel could. */
  deleteMessage(messageRef: string): Promise<void>;
  failGroupLookups(isFailing: boolean): void;
  close(): Promise<void>;
}

export type MakeDriver = (db: { sql: Sql; schema: string }) => Promise<PlatformDriver>;

export interface Deployment {
  engine: Engine;
  desk: ReviewDesk;
  stop(): Promise<void>;
}

/** What a deployment runs besides the contract's review flows. */
export interface DeployOptions {
  flows?: Flow<any>[];
  services?: ServicesFactory;
  /** How proposed tool calls are described on cards (main.ts passes the step runtime's). */
  describeAction?: DeskOptions['describeAction'];
  /** Where the engine and the desk count (GET /metrics); default each its own. */
  metrics?: Metrics;
}

/** The bot as main.ts assembles it, around one adapter. */
export async function deploy(
  db: { sql: Sql; schema: string },
  driver: PlatformDriver,
  opts: DeployOptions = {},
): Promise<Deployment> {
  const flows = opts.flows ?? contractFlows;
  const desk = new ReviewDesk({
    sql: db.sql,
    flows,
    ports: new Map([[driver.port.platform, driver.port]]),
    defaultPlatform: driver.port.platform,
    defaultChannel: driver.channel,
    ...(opts.describeAction ? { describeAction: opts.describeAction } : {}),
    metrics: opts.metrics,
  });
  const engine = new Engine({
    // No fallback poll within a test's time: work that waits for it is a lost wake-up, and fails the test.
    sql: db.sql,
    schema: db.schema,
    flows,
    reviews: desk,
    pollMs: 120_000,
    ...(opts.services ? { services: opts.services } : {}),
    metrics: opts.metrics,
  });
  await engine.start();
  desk.start(200);
  await driver.port.start(
    desk.handlers((cmd) =>
      handleCommand(cmd, makeCommandDeps(engine, { repostCards: (id, o) => desk.repostCards(id, o) })),
    ),
  );
  return {
    engine,
    desk,
    stop: async () => {
      desk.stop();
      await engine.stop(1_000);
    },
  };
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function chatPortContract(name: string, makeDriver: MakeDriver): void {
  describe(`chat port contract: ${name}`, () => {
    const db = useTestDb({ max: 20 });
    let driver: PlatformDriver;
    let app: Deployment;
    let n = 0;

    beforeAll(async () => {
      driver = await makeDriver(db);
      app = await deploy(db, driver);
    });
    afterAll(async () => {
      await app?.stop();
      await driver?.close();
    });

    async function request(flow: string, text = `ticket ${++n}`, requester = 'alice', big?: string) {
      const { runId } = await app.engine.startRun(
        flow,
        { text, ...(big ? { big } : {}) },
        {
          trigger: { source: driver.port.platform, actor: requester, channel: driver.channel, tenant: driver.tenant },
        },
      );
      return { runId, card: await cardOf(runId) };
    }
    function cardOf(runId: string, test: (c: SeenCard) => boolean = () => true, channel = driver.channel) {
      return until(`the card of ${runId}`, async () =>
        (await driver.cards(channel)).find((c) => c.runId === runId && test(c)),
      );
    }
    async function reviewRow(runId: string) {
      return (await db.sql`SELECT * FROM reviews WHERE run_id = ${runId}`)[0]!;
    }
    async function outcomes(runId: string) {
      const rows =
        await db.sql`SELECT a.action, a.actor, a.outcome FROM review_audit a JOIN reviews r ON r.id = a.review_id WHERE r.run_id = ${runId} ORDER BY a.seq`;
      return rows.map((r) => `${r.action}:${r.actor}:${r.outcome}`);
    }
    async function applyJobs(runId: string) {
      return db.sql`SELECT input FROM jobs WHERE run_id = ${runId} AND name = 'apply'`;
    }
    const text = (reply: ActionReply | SubmissionReply) =>
      'notice' in reply && reply.notice ? reply.notice.text : JSON.stringify(reply);

    it('45: the requester cannot approve their own run: told why, audited, state unchanged', async () => {
      const { runId, card } = await request('rv-leads');
      await driver.setGroups('alice', ['support-leads']);
      const reply = await driver.click('alice', card, 'approve');
      await driver.setGroups('alice', []);
      expect(reply.kind).toBe('ephemeral');
      expect(text(reply)).toMatch(/you requested this run/i);
      expect(await outcomes(runId)).toContain('approve:alice:denied:self_approval');
      expect((await reviewRow(runId)).status).toBe('pending');
    });

    it('45b: self-approval is allowed when the policy says so', async () => {
      const { runId, card } = await request('rv-anyone');
      expect((await driver.click('alice', card, 'approve')).kind).toBe('ok');
      await app.engine.waitFor(runId, ['done']);
    });

    it('46: someone outside the approver group is refused and audited', async () => {
      const { runId, card } = await request('rv-leads');
      const reply = await driver.click('dave', card, 'approve');
      expect(text(reply)).toMatch(/not in support-leads/i);
      expect(await outcomes(runId)).toContain('approve:dave:denied:not_allowed');
      expect((await reviewRow(runId)).status).toBe('pending');
    });

    it('47: someone removed from the group after the card was posted is refused', async () => {
      await driver.setGroups('erin', ['support-leads']);
      const { runId, card } = await request('rv-leads');
      await driver.setGroups('erin', []);
      expect(text(await driver.click('erin', card, 'approve'))).toMatch(/not in support-leads/i);
      expect((await reviewRow(runId)).status).toBe('pending');
    });

    it('48: a failing group lookup fails closed with "try again"', async () => {
      const { runId, card } = await request('rv-leads');
      driver.failGroupLookups(true);
      const reply = await driver.click('bob', card, 'approve').finally(() => driver.failGroupLookups(false));
      expect(text(reply)).toMatch(/try again/i);
      expect(await outcomes(runId)).toContain('approve:bob:denied:lookup_failed');
      expect((await reviewRow(runId)).status).toBe('pending');
    });

    it('49: two approvers at the same instant: one decision, the other told who won, the tool runs once', async () => {
      const { runId, card } = await request('rv-leads');
      const [a, b] = await Promise.all([driver.click('bob', card, 'approve'), driver.click('carol', card, 'approve')]);
      const refused = [a, b].filter((r) => r.kind === 'ephemeral');
      expect(refused).toHaveLength(1);
      expect(text(refused[0]!)).toMatch(/already approved by <@(bob|carol)> at \d\d:\d\d/i);
      await app.engine.waitFor(runId, ['done']);
      expect(await applyJobs(runId)).toHaveLength(1);
      const decided = await cardOf(runId, (c) => c.status === 'approved');
      expect(decided.actions).toEqual([]);
    });

    it('50: a double click by the same person counts once; both are answered', async () => {
      const { runId, card } = await request('rv-quorum');
      const first = driver.click('bob', card, 'approve');
      await new Promise((r) => setTimeout(r, 50));
      const [one, two] = await Promise.all([first, driver.click('bob', card, 'approve')]);
      expect([one.kind, two.kind].sort()).toEqual(['ephemeral', 'ok']);
      expect(text(two)).toMatch(/you already approved/i);
      const row = await reviewRow(runId);
      expect(row.decisions).toHaveLength(1);
      expect(row.status).toBe('pending');
      expect((await cardOf(runId, (c) => c.statusText.includes('1 of 2'))).status).toBe('pending');
    });

    it('51: quorum 2-of-3 needs two distinct approvers; the requester does not count; one reject vetoes', async () => {
      const { runId, card } = await request('rv-quorum');
      expect(text(await driver.click('alice', card, 'approve'))).toMatch(/you requested this run/i);
      await driver.click('bob', card, 'approve');
      expect((await reviewRow(runId)).status).toBe('pending');
      await driver.click('carol', card, 'approve');
      await app.engine.waitFor(runId, ['done']);
      expect((await app.engine.getRun(runId))!.output).toMatchObject({
        outcome: 'approved',
        decided: { by: ['bob', 'carol'] },
      });

      const vetoed = await request('rv-quorum');
      await driver.click('bob', vetoed.card, 'approve');
      const form = await driver.click('dave', vetoed.card, 'reject');
      expect(form.kind).toBe('open_editor');
      await driver.submit('dave', (form as Extract<ActionReply, { kind: 'open_editor' }>).form, {
        reason: 'wrong customer',
      });
      const run = await app.engine.waitFor(vetoed.runId, ['done']);
      expect(run.output).toMatchObject({ outcome: 'rejected', decided: { reason: 'wrong customer' } });
      await expect(
        import('../../src/review/policy.ts').then((p) =>
          p.parsePolicy({ approvers: { users: ['a', 'b'] }, quorum: 3 }),
        ),
      ).rejects.toThrow(/unsatisfiable quorum/);
    });

    it('52: approve and reject at the same instant: exactly one outcome, the loser told, both attempts audited', async () => {
      const { runId, card } = await request('rv-leads');
      const form = (await driver.click('carol', card, 'reject')) as Extract<ActionReply, { kind: 'open_editor' }>;
      const [approve, reject] = await Promise.all([
        driver.click('bob', card, 'approve'),
        driver.submit('carol', form.form, { reason: 'no' }),
      ]);
      const row = await reviewRow(runId);
      expect(['approved', 'rejected']).toContain(row.status);
      const loser = row.status === 'approved' ? reject : approve;
      expect(JSON.stringify(loser)).toMatch(/already (approved|rejected) by/i);
      const audit = await outcomes(runId);
      expect(audit.filter((a) => a.startsWith('approve:bob') || a.startsWith('reject:carol'))).toHaveLength(2);
      await app.engine.waitFor(runId, ['done']);
    });

    it('54: a redelivered click is a no-op', async () => {
      const { runId, card } = await request('rv-quorum');
      await driver.click('bob', card, 'approve', { deliveryId: 'click-54' });
      const again = await driver.click('bob', card, 'approve', { deliveryId: 'click-54' });
      expect(again.kind).toBe('ok');
      expect((await outcomes(runId)).filter((o) => o.startsWith('approve:bob'))).toHaveLength(1);
    });

    it('55: a button naming another review is refused without saying it exists, and audited', async () => {
      const a = await request('rv-leads');
      const b = await request('rv-leads');
      const reply = await driver.click('bob', a.card, 'approve', { reviewRef: b.card.reviewRef });
      expect(text(reply)).toMatch(/not valid here/);
      expect(text(reply)).not.toContain(b.runId);
      expect(await outcomes(b.runId)).toContain('approve:bob:denied:ref_mismatch');
      expect((await reviewRow(b.runId)).status).toBe('pending');
      const bogus = await driver.click('bob', a.card, 'approve', { reviewRef: '00000000-0000-0000-0000-000000000000' });
      expect(text(bogus)).toBe(text(reply));
    });

    it('56/57: an edit makes a new version, voids earlier approvals, the editor cannot approve it, stale clicks are refused', async () => {
      const { runId, card } = await request('rv-quorum');
      await driver.click('bob', card, 'approve');
      const form = (await driver.click('carol', card, 'edit')) as Extract<ActionReply, { kind: 'open_editor' }>;
      expect(form.form.fields[0]!.value).toBe(card.body);
      expect((await driver.submit('carol', form.form, { text: 'edited by carol' })).kind).toBe('ok');
      const v2 = await cardOf(runId, (c) => c.version === 2);
      expect(v2.diff).toEqual({ before: card.body, after: 'edited by carol' });
      expect(v2.statusText).toMatch(/0 of 2/);
      expect(text(await driver.click('dave', card, 'approve'))).toMatch(/out of date/i);
      expect(text(await driver.click('carol', v2, 'approve'))).toMatch(/you edited this version/i);
      await driver.click('bob', v2, 'approve');
      await driver.click('dave', v2, 'approve');
      const run = await app.engine.waitFor(runId, ['done']);
      const row = await reviewRow(runId);
      expect(run.output).toMatchObject({
        outcome: 'approved',
        decided: { content: { text: 'edited by carol' }, contentSha256: row.content_sha256 },
      });
      const [applied] = await applyJobs(runId);
      expect(applied!.input.contentSha256).toBe(row.content_sha256);
      expect(text(await driver.click('bob', v2, 'edit'))).toMatch(/already approved/i);
    });

    it('58: a dialog submitted for an older version gets a clear error and changes nothing', async () => {
      const { runId, card } = await request('rv-leads');
      const first = (await driver.click('bob', card, 'edit')) as Extract<ActionReply, { kind: 'open_editor' }>;
      const second = (await driver.click('carol', card, 'edit')) as Extract<ActionReply, { kind: 'open_editor' }>;
      await driver.submit('carol', second.form, { text: 'carol wins' });
      const stale = await driver.submit('bob', first.form, { text: 'bob loses' });
      expect(stale.kind).toBe('errors');
      expect(JSON.stringify(stale)).toMatch(/out of date/i);
      expect((await reviewRow(runId)).content).toEqual({ text: 'carol wins' });
    });

    it('61: the card shows the exact proposed action verbatim, cuts a 10 kB value, and the hash covers it all', async () => {
      const hostile = '<!channel> @everyone <@U123> <https://evil.example|Approve> <script>x</script>';
      const { runId, card } = await request('rv-leads', hostile, 'alice', 'x'.repeat(10_000));
      expect(card.allText).toContain(hostile);
      expect(card.proposed[0]).toMatchObject({ name: 'note', old: 'none' });
      expect(card.proposed[0]!.new.length).toBeLessThan(3_000);
      expect(card.proposed[0]!.new).toMatch(/10000 characters/);
      const { approvalSha256 } = await import('../../src/review/card.ts');
      const row = await reviewRow(runId);
      expect(row.content_sha256).toBe(
        approvalSha256({ text: hostile }, { proposedAction: row.request.proposedAction }),
      );
      expect(row.request.proposedAction.fields[0].new).toHaveLength(10_000);
    });

    it('60: the audit trail is append-only and hash-chained; every row says who, where, what version, when', async () => {
      const { runId, card } = await request('rv-leads');
      await driver.click('dave', card, 'approve');
      await driver.click('bob', card, 'approve');
      const row = await reviewRow(runId);
      await expect(db.sql`UPDATE review_audit SET actor = 'mallory' WHERE review_id = ${row.id}`).rejects.toThrow(
        /permission denied/,
      );
      await expect(db.sql`DELETE FROM review_audit WHERE review_id = ${row.id}`).rejects.toThrow(/permission denied/);
      const audit = await readAudit(db.sql, row.id);
      for (const a of audit) {
        expect(a).toMatchObject({ tenant: driver.tenant, version: 1 });
        expect(a.actor && a.hash && a.at && a.content_sha256).toBeTruthy();
      }
      expect(audit.find((a) => a.action === 'approve' && a.actor === 'bob')!.message_ref).toBe(card.messageRef);
      expect(await verifyAuditChain(db.sql, row.id)).toBeNull();
      await db.sql.begin(async (tx) => {
        await tx`ALTER TABLE review_audit DISABLE TRIGGER review_audit_append_only`;
        await tx`UPDATE review_audit SET actor = 'mallory' WHERE review_id = ${row.id} AND seq = 2`;
        await tx`ALTER TABLE review_audit ENABLE TRIGGER review_audit_append_only`;
      });
      expect(await verifyAuditChain(db.sql, row.id)).toBe(2);
    });

    it('a click in the moment before the card is recorded is told to click again, and changes nothing', async () => {
      const { runId, card } = await request('rv-leads');
      // The window between the post and its recording, held open.
      const [saved] = await db.sql<
        { card_ref: string }[]
      >`UPDATE reviews SET card_ref = NULL WHERE run_id = ${runId} RETURNING ${card.messageRef}::text AS card_ref`;
      const reply = await driver.click('bob', card, 'approve');
      expect(text(reply)).toMatch(/still being posted/);
      await db.sql`UPDATE reviews SET card_ref = ${saved!.card_ref} WHERE run_id = ${runId}`;
      expect((await reviewRow(runId)).status).toBe('pending');
      expect(await outcomes(runId)).toEqual(['request:alice:accepted', 'approve:bob:denied:card_not_ready']);
      expect(await driver.click('bob', card, 'approve')).toMatchObject({ kind: 'ok' });
    });

    it('cards stay true: outcome, who and when on the card, a thread reply, the requester told', async () => {
      const { runId, card } = await request('rv-leads');
      await driver.click('bob', card, 'approve');
      const done = await cardOf(runId, (c) => c.status === 'approved');
      expect(done.actions).toEqual([]);
      expect(done.statusText).toMatch(/Approved by @bob at \d\d:\d\d UTC/);
      const thread = await until('the thread reply', async () =>
        (await driver.thread(card.messageRef)).find((t) => t.includes('Approved')),
      );
      expect(thread).toContain(runId);
      await until('the requester DM', async () => (await driver.dms('alice')).find((t) => t.includes(runId)));
    });

    it('delegating to the requester is refused with the reason, and changes nothing', async () => {
      const { runId, card } = await request('rv-leads');
      const delegate = (await driver.click('bob', card, 'delegate')) as Extract<ActionReply, { kind: 'open_editor' }>;
      const reply = await driver.submit('bob', delegate.form, { user: 'alice' });
      // Where the platform shows it (beside the field, or above the form) is the platform's.
      expect(reply.kind).toBe('errors');
      expect(Object.values((reply as Extract<typeof reply, { kind: 'errors' }>).errors).join(' ')).toMatch(
        /alice requested this run/,
      );
      expect((await reviewRow(runId)).delegates).toEqual([]);
    });

    it('reject asks for a reason and hands it to the flow; delegation lets another person decide', async () => {
      await driver.setGroups('frank', []);
      const { runId, card } = await request('rv-leads');
      const delegate = (await driver.click('bob', card, 'delegate')) as Extract<ActionReply, { kind: 'open_editor' }>;
      expect(delegate.form.purpose).toBe('delegate');
      expect((await driver.submit('bob', delegate.form, { user: 'frank' })).kind).toBe('ok');
      await until('the delegate DM', async () =>
        (await driver.dms('frank')).find((t) => t.includes('asked you to review')),
      );
      const form = (await driver.click('frank', card, 'reject')) as Extract<ActionReply, { kind: 'open_editor' }>;
      await driver.submit('frank', form.form, { reason: 'tone is off' });
      const run = await app.engine.waitFor(runId, ['done']);
      expect(run.output).toMatchObject({ outcome: 'rejected', decided: { reason: 'tone is off', by: ['frank'] } });
    });

    it('commands: run, status and an unknown flow through the platform', async () => {
      const started = await driver.command('alice', driver.channel, 'run rv-leads text="from a command"');
      expect(started.visibility).toBe('channel');
      const runId = /run `?([0-9a-f-]{36})/.exec(started.notice.text)?.[1];
      expect(runId).toBeTruthy();
      await cardOf(runId!);
      const status = await driver.command('alice', driver.channel, `status ${runId}`);
      expect(status.notice.text).toMatch(/waiting/);
      const unknown = await driver.command('alice', driver.channel, 'run no-such-flow');
      expect(unknown.visibility).toBe('ephemeral');
      expect(unknown.notice.text).toMatch(/rv-leads/);
    });

    it('59: a deleted card leaves the review pending; its requester re-posts it and the new card decides', async () => {
      const { runId, card } = await request('rv-leads');
      await driver.deleteMessage(card.messageRef);
      const reposted = await driver.command('alice', driver.channel, `repost ${runId}`);
      expect(reposted.notice.text).toMatch(/re-posted/);
      const fresh = await cardOf(runId, (c) => c.messageRef !== card.messageRef);
      expect(text((await driver.command('dave', driver.channel, `repost ${runId}`)) as never)).toMatch(
        /only its requester or an admin/,
      );
      await driver.click('bob', fresh, 'approve');
      await app.engine.waitFor(runId, ['done']);
      expect((await driver.command('alice', driver.channel, `repost ${runId}`)).notice.text).toMatch(
        /no review waiting/,
      );
    });

    it('53 + 59: a card that cannot be posted leaves the run pending until expiry; a click after expiry is refused and expires it once', async () => {
      const nowhere = await app.engine.startRun(
        'rv-nowhere',
        { text: 'lost card' },
        {
          trigger: { source: driver.port.platform, actor: 'alice', channel: driver.channel, tenant: driver.tenant },
        },
      );
      const { runId, card } = await request('rv-short');
      await app.stop();
      await new Promise((r) => setTimeout(r, 1_700));
      const reply = await driver.click('bob', card, 'approve');
      expect(text(reply)).toMatch(/expired at/i);
      expect((await reviewRow(runId)).status).toBe('expired');
      app = await deploy(db, driver);
      await app.engine.waitFor(runId, ['done']);
      expect((await app.engine.getRun(runId))!.output).toMatchObject({ outcome: 'expired' });
      expect((await outcomes(runId)).filter((o) => o.startsWith('expire:'))).toHaveLength(1);
      const lost = await app.engine.waitFor(nowhere.runId, ['done'], { timeoutMs: 15_000 });
      expect(lost.output).toMatchObject({ outcome: 'expired' });
    });
  });
}
