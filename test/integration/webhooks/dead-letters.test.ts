/**
 * `/signoff deadletters` (admins): lists webhook deliveries a flow refused, and
 * replays one once the flow takes it, exactly once (RELIABILITY 26).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundCommand } from '../../../src/chat/messages.ts';
import { handleCommand, makeCommandDeps } from '../../../src/triggers/commands.ts';
import { deadLetterControl } from '../../../src/triggers/webhooks/dead-letters.ts';
import { readWebhookSettings } from '../../../src/triggers/webhooks/settings.ts';
import { useTestDb } from '../../helpers/db.ts';
import { ENV, post, startHarness, type Harness } from './harness.ts';

const db = useTestDb();
let h: Harness;
beforeAll(async () => {
  h = await startHarness(db);
});
afterAll(async () => {
  await h?.stop();
});

function command(text: string, user = 'ops-admin'): InboundCommand {
  return {
    platform: 'console',
    tenant: 'local',
    channel: 'ops',
    user,
    text,
    deliveryId: `d-${Math.random()}`,
  } as InboundCommand;
}
const deps = () =>
  makeCommandDeps(h.engine, {
    admins: new Set(['ops-admin']),
    deadLetters: deadLetterControl(h.engine, readWebhookSettings(ENV, [], h.publicUrl), 'support'),
  });
const text = (r: { notice: { text: string; quote?: string } }) => `${r.notice.text}\n${r.notice.quote ?? ''}`;

describe('/signoff deadletters', () => {
  it('lists a refused delivery for an admin only, and a replay the flow still refuses changes nothing', async () => {
    const res = await post(h, {
      preset: 'zendesk',
      source: 'zendesk',
      deliveryId: 'inv-dl',
      body: { type: 'zen:event-type:ticket.created', detail: { id: 'x1', subject: 'Refund' } },
    });
    expect(res.status).toBe(400);
    const listed = await handleCommand(command('deadletters'), deps());
    expect(text(listed)).toMatch(/\d+ · zendesk ticket\.created → on-ticket .*invalid input for "on-ticket"/);
    expect(text(await handleCommand(command('deadletters', 'someone-else'), deps()))).toMatch(/only an admin/);
    const [row] = await db.sql`SELECT id::text FROM webhook_dead_letters WHERE delivery_key = 'inv-dl'`;
    expect(text(await handleCommand(command(`deadletters replay ${row!.id}`), deps()))).toMatch(
      /not replayed:\non-ticket still refuses it/,
    );
    expect(await db.sql`SELECT 1 FROM runs WHERE flow = 'on-ticket'`).toHaveLength(0);
  });

  it("replays one the flow now takes: one run, under the delivery's own key, once", async () => {
    // As if the flow's schema had been too strict when it arrived: the stored event is valid now.
    const [row] = await db.sql`
      INSERT INTO webhook_dead_letters (source, delivery_key, event, flow, body_sha256, payload, reason)
      VALUES ('zendesk', 'inv-fixed', 'ticket.created', 'on-ticket', 'ab', ${db.sql.json({ detail: { id: '991', subject: 'Refund' } })}, 'was refused')
      RETURNING id::text`;
    const replies = await Promise.all(
      [1, 2].map(() => handleCommand(command(`deadletters replay ${row!.id}`), deps())),
    );
    expect(replies.filter((r) => /replayed dead letter/.test(text(r)))).toHaveLength(1);
    expect(replies.filter((r) => /already replayed/.test(text(r)))).toHaveLength(1);
    const runs = await db.sql`SELECT id, trigger_key, input FROM runs WHERE flow = 'on-ticket'`;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      trigger_key: 'webhook:zendesk:inv-fixed:on-ticket',
      input: { ticketId: '991', subject: 'Refund' },
    });
    const [after] = await db.sql`SELECT replay_run_id FROM webhook_dead_letters WHERE id = ${row!.id}`;
    expect(after!.replay_run_id).toBe(runs[0]!.id);
    expect(text(await handleCommand(command('deadletters'), deps()))).not.toMatch(/inv-fixed|991/);
  });
});
