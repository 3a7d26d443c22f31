/**
 * Salesforce Lead tools on the REST API (SALESFORCE_URL, your My Domain URL
 * such as https://acme.my.salesforce.com, and SALESFORCE_TOKEN, an OAuth
 * access token sent as `Authorization: Bearer <token>`;
 * https://developer.salesforce.com/docs/platform/api-rest/guide/dome-update-fields.html).
 *
 * - `salesforce.get-lead` reads `GET /services/data/vNN.N/sobjects/Lead/{id}`:
 *   an outbound message's fields are as of its sending, and messages are
 *   retried "independent of their order in the queue"
 *   (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_notifications.htm),
 *   so lead-qualification acts on this read. 404 (deleted or merged) is `exists: false`.
 * - `salesforce.update-lead` is a PATCH of field values on the same path,
 *   answered 204. Salesforce has no idempotency key for it and needs none:
 *   a repeat sets the same values (`idempotent`).
 *
 * Errors are Salesforce's JSON array `[{ message, errorCode, fields }]`
 * (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm);
 * a 4xx is refused with Salesforce's own `errorCode: message` and not retried.
 */
import { z } from 'zod';
import { permanentError } from '../../../engine/flow.ts';
import { HttpStatusError } from '../http.ts';
import type { ToolDefinition } from '../types.ts';
import { apiUrl, bearer, cardHost, changedFields, field } from './connector.ts';

/**
 * The REST API version in every path. The sObject Rows resource has been the
 * same since v20.0; 62.0 (Winter '25) is served by every org today.
 */
export const SALESFORCE_API_VERSION = 'v62.0';

/** A Lead's record id: key prefix 00Q, 15 characters or 18 (with the case checksum). */
const leadId = z.string().regex(/^00Q[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/, 'must be a Salesforce Lead id (00Q…)');
/** An API field name, standard or custom (`Rating`, `Score__c`). */
const fieldName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,79}$/, 'must be a Salesforce field API name');

/** What lead-qualification reads. */
export const LEAD_FIELDS = [
  'Id',
  'FirstName',
  'LastName',
  'Email',
  'Company',
  'Title',
  'NumberOfEmployees',
  'Website',
  'Status',
  'Rating',
  'IsConverted',
  'SystemModstamp',
];

const getInput = z.object({ leadId });
const getOutput = z.object({
  leadId: z.string(),
  /** False when the lead is gone (deleted or merged since the message): Salesforce answers 404. */
  exists: z.boolean(),
  /** The fields of LEAD_FIELDS as text (numbers and booleans too); unset ones are null. */
  fields: z.record(z.string(), z.string().nullable()),
  updatedAt: z.string().nullable(),
  /** True in local mode: nothing was read. */
  local: z.boolean().optional(),
});

const updateInput = z.object({
  leadId,
  fields: z
    .record(fieldName, z.string().max(32_000))
    .refine((f) => Object.keys(f).length > 0, 'set at least one field'),
  /** The lead's current values, when the flow read them: the card shows old → new. */
  previous: z.record(z.string(), z.string()).optional(),
});
const updateOutput = z.object({
  leadId: z.string(),
  fields: z.record(z.string(), z.string()),
  local: z.boolean().optional(),
});

type GetInput = z.infer<typeof getInput>;
type GetOutput = z.infer<typeof getOutput>;
type UpdateInput = z.infer<typeof updateInput>;
type UpdateOutput = z.infer<typeof updateOutput>;

function leadPath(id: string): string {
  return `/services/data/${SALESFORCE_API_VERSION}/sobjects/Lead/${encodeURIComponent(id)}`;
}

/** A 4xx (other than a rate limit) as a permanent error in Salesforce's words; anything else unchanged. */
function refusal(err: unknown, what: string): unknown {
  if (!(err instanceof HttpStatusError)) return err;
  const { status, body } = err.response;
  if (status < 400 || status >= 500 || status === 429 || !Array.isArray(body)) return err;
  const words = body
    .map((e: { errorCode?: unknown; message?: unknown }) => `${String(e?.errorCode)}: ${String(e?.message)}`)
    .join('; ')
    .slice(0, 300);
  return permanentError(`Salesforce refused ${what} (${status}): ${words}`, err);
}

function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export const salesforceGetLead: ToolDefinition<GetInput, GetOutput> = {
  name: 'salesforce.get-lead',
  connector: 'salesforce',
  description: 'Read a Salesforce lead as it is now.',
  input: getInput,
  output: getOutput,
  safety: 'idempotent',
  isWrite: false,
  async call(input, ctx) {
    const url = apiUrl(ctx.settings, `${leadPath(input.leadId)}?fields=${LEAD_FIELDS.join(',')}`);
    const res = await ctx.http.request({ method: 'GET', url, headers: bearer(ctx.settings) }).catch((err: unknown) => {
      if (err instanceof HttpStatusError && err.response.status === 404) return null;
      throw refusal(err, `reading lead ${input.leadId}`);
    });
    if (!res) return { leadId: input.leadId, exists: false, fields: {}, updatedAt: null };
    const body = (res.body ?? {}) as Record<string, unknown>;
    const fields = Object.fromEntries(LEAD_FIELDS.map((f) => [f, asText(body[f])]));
    return { leadId: fields.Id ?? input.leadId, exists: true, fields, updatedAt: fields.SystemModstamp ?? null };
  },
  local(input) {
    return {
      leadId: input.leadId,
      exists: true,
      fields: { Id: input.leadId, Email: `lead-${input.leadId}@example.com`, IsConverted: 'false' },
      updatedAt: null,
      local: true,
    };
  },
  describe(input, settings) {
    return {
      tool: 'salesforce.get-lead',
      method: 'GET',
      host: cardHost(settings),
      fields: [field('lead', input.leadId)],
    };
  },
};

export const salesforceUpdateLead: ToolDefinition<UpdateInput, UpdateOutput> = {
  name: 'salesforce.update-lead',
  connector: 'salesforce',
  description: 'Set fields of a Salesforce lead.',
  input: updateInput,
  output: updateOutput,
  safety: 'idempotent',
  isWrite: true,
  async call(input, ctx) {
    await ctx.http
      .request({
        method: 'PATCH',
        url: apiUrl(ctx.settings, leadPath(input.leadId)),
        headers: bearer(ctx.settings),
        body: input.fields,
      })
      .catch((err: unknown) => {
        throw refusal(err, `the update of lead ${input.leadId}`);
      });
    // 204 No Content: Salesforce answers nothing on success, so the output is what was set.
    return { leadId: input.leadId, fields: input.fields };
  },
  local(input) {
    return { leadId: input.leadId, fields: input.fields, local: true };
  },
  describe(input, settings) {
    return {
      tool: 'salesforce.update-lead',
      method: 'PATCH',
      host: cardHost(settings),
      fields: [field('lead', input.leadId), ...changedFields(input.fields, input.previous)],
    };
  },
};
