/**
 * A card's "On approval" comes from the tool (issue 10, item 6): the step
 * runtime's `describeAction` validates a tool call's input with the tool's own
 * schema and returns the real call (method, host from config or local mode,
 * the fields it sends), so a flow names a tool call and writes no strings.
 */
import { afterAll, expect, it } from 'vitest';
import { readConfig } from '../../../src/config.ts';
import { isSignoffError } from '../../../src/errors.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { createStepRuntime } from '../../../src/steps/runtime.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();
const configured = createStepRuntime({
  config: readConfig({
    ZENDESK_URL: 'https://acme.zendesk.com',
    ZENDESK_EMAIL: 'agent@acme.example',
    ZENDESK_TOKEN: 'zd-secret',
  }),
  sql: db.sql,
  log: silentLogger,
});
const local = createStepRuntime({ config: readConfig({}), sql: db.sql, log: silentLogger });
afterAll(async () => {
  await configured.stop();
  await local.stop();
});

const reply = { ticketId: '4242', body: 'We refunded the duplicate charge.', public: true };

it('describes zendesk.reply as the PUT it makes, on the configured host, without the token', async () => {
  const action = await configured.describeAction('zendesk.reply', reply);
  expect(action).toEqual({
    tool: 'zendesk.reply',
    method: 'PUT',
    host: 'acme.zendesk.com',
    fields: [
      { name: 'ticket', new: '4242' },
      { name: 'public reply', new: 'We refunded the duplicate charge.' },
    ],
  });
  expect(JSON.stringify(action)).not.toContain('zd-secret');
});

it('says so when the connector is not configured: nothing is sent', async () => {
  expect((await local.describeAction('zendesk.reply', reply)).host).toMatch(/local mode/);
});

it('refuses an unknown tool and invalid input with a clear error', async () => {
  const unknown = await local.describeAction('zendesk.delete-everything', {}).catch((e: unknown) => e);
  expect(isSignoffError(unknown, 'tool_refused') && unknown.message).toBe(
    'there is no tool "zendesk.delete-everything"',
  );
  const invalid = await local
    .describeAction('zendesk.reply', { ticketId: '../admin', body: '' })
    .catch((e: unknown) => e);
  expect(isSignoffError(invalid, 'step_failed') && invalid.message).toMatch(
    /^tool "zendesk.reply" was given invalid input: /,
  );
});
