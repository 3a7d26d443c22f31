/**
 * HubSpot CRM tools (HUBSPOT_TOKEN, a private-app token sent as Bearer;
 * HUBSPOT_URL defaults to https://api.hubapi.com). Updating a contact's
 * properties is a PATCH of values: HubSpot offers no idempotency key for it,
 * and needs none, since a repeat sets the same values (`idempotent`: a retry
 * after an unknown outcome is harmless).
 */
import { z } from 'zod';
import { retryLater } from '../../../errors.ts';
import { HttpStatusError } from '../http.ts';
import type { ToolDefinition } from '../types.ts';
import { apiUrl, bearer, cardHost, changedFields, field } from './connector.ts';

/** HubSpot's internal property names: lower-case, digits and underscores. */
const propertyName = z.string().regex(/^[a-z0-9_]{1,100}$/, 'must be a HubSpot property name');
const properties = z.record(propertyName, z.string().max(65_536));

const updateInput = z.object({
  /** A contact's record id (digits), so a model-proposed id cannot walk the URL path. */
  contactId: z.string().regex(/^\d{1,20}$/, 'must be a HubSpot contact id (digits)'),
  properties: properties.refine((p) => Object.keys(p).length > 0, 'set at least one property'),
  /** The contact's current values, when the flow read them: the card shows old → new. */
  previous: z.record(z.string(), z.string()).optional(),
});

const contactOutput = z.object({
  contactId: z.string(),
  /** HubSpot answers every property it holds for the contact; unset ones are null. */
  properties: z.record(z.string(), z.string().nullable()),
  /** True in local mode: nothing was sent. */
  local: z.boolean().optional(),
});

/**
 * HubSpot's 429 carries no Retry-After; its window is named by
 * X-HubSpot-RateLimit-Interval-Milliseconds (https://developers.hubspot.com/docs/api/usage-details),
 * so that is how long to wait instead of the generic default.
 */
function rateLimited(err: unknown): unknown {
  if (!(err instanceof HttpStatusError) || err.response.status !== 429) return err;
  const intervalMs = Number(err.response.headers['x-hubspot-ratelimit-interval-milliseconds']);
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) return err;
  return retryLater(
    `HubSpot is rate limiting; trying again in ${Math.ceil(intervalMs / 1000)} s`,
    Math.max(1_000, intervalMs),
    err,
  );
}

type UpdateInput = z.infer<typeof updateInput>;
type ContactOutput = z.infer<typeof contactOutput>;

export const hubspotUpdateContact: ToolDefinition<UpdateInput, ContactOutput> = {
  name: 'hubspot.update-contact',
  connector: 'hubspot',
  description: 'Set properties of a HubSpot contact.',
  input: updateInput,
  output: contactOutput,
  safety: 'idempotent',
  isWrite: true,
  async call(input, ctx) {
    const res = await ctx.http
      .request({
        method: 'PATCH',
        url: apiUrl(ctx.settings, `/crm/v3/objects/contacts/${encodeURIComponent(input.contactId)}`),
        headers: bearer(ctx.settings),
        body: { properties: input.properties },
      })
      .catch((err: unknown) => {
        throw rateLimited(err);
      });
    // HubSpot answers `{ id, properties, createdAt, updatedAt, archived }`.
    const body = res.body as { id?: unknown; properties?: Record<string, string | null> } | null;
    return { contactId: String(body?.id ?? input.contactId), properties: body?.properties ?? input.properties };
  },
  local(input) {
    return { contactId: input.contactId, properties: input.properties, local: true };
  },
  describe(input, settings) {
    return {
      tool: 'hubspot.update-contact',
      method: 'PATCH',
      host: cardHost(settings),
      fields: [field('contact', input.contactId), ...changedFields(input.properties, input.previous)],
    };
  },
};

const getInput = z.object({
  contactId: z.string().regex(/^\d{1,20}$/, 'must be a HubSpot contact id (digits)'),
});

/** What lead qualification reads; HubSpot returns only the properties asked for. */
export const CONTACT_PROPERTIES = [
  'email',
  'firstname',
  'lastname',
  'company',
  'jobtitle',
  'lifecyclestage',
  'hs_lead_status',
  'numemployees',
  'website',
];

const getOutput = contactOutput.extend({
  /** False when the contact is gone (deleted or merged since the webhook was sent): HubSpot answers 404. */
  exists: z.boolean(),
  updatedAt: z.string().nullable(),
});

type GetInput = z.infer<typeof getInput>;
type GetOutput = z.infer<typeof getOutput>;

/**
 * Reads a contact as it is now. Webhooks may arrive out of order and carry only
 * ids (RELIABILITY 28), so a flow acts on this read, never on the event alone.
 */
export const hubspotGetContact: ToolDefinition<GetInput, GetOutput> = {
  name: 'hubspot.get-contact',
  connector: 'hubspot',
  description: 'Read a HubSpot contact as it is now.',
  input: getInput,
  output: getOutput,
  safety: 'idempotent',
  isWrite: false,
  async call(input, ctx) {
    const query = new URLSearchParams({ properties: CONTACT_PROPERTIES.join(','), archived: 'false' });
    const url = apiUrl(ctx.settings, `/crm/v3/objects/contacts/${encodeURIComponent(input.contactId)}?${query}`);
    const res = await ctx.http.request({ method: 'GET', url, headers: bearer(ctx.settings) }).catch((err: unknown) => {
      if ((err as { response?: { status?: number } }).response?.status === 404) return null;
      throw err;
    });
    if (!res) return { contactId: input.contactId, properties: {}, exists: false, updatedAt: null };
    const body = res.body as { id?: unknown; properties?: Record<string, string | null>; updatedAt?: string } | null;
    return {
      contactId: String(body?.id ?? input.contactId),
      properties: body?.properties ?? {},
      exists: true,
      updatedAt: body?.updatedAt ?? null,
    };
  },
  local(input) {
    return {
      contactId: input.contactId,
      properties: { email: `contact-${input.contactId}@example.com` },
      exists: true,
      updatedAt: null,
      local: true,
    };
  },
  describe(input, settings) {
    return {
      tool: 'hubspot.get-contact',
      method: 'GET',
      host: cardHost(settings),
      fields: [field('contact', input.contactId)],
    };
  },
};
