/**
 * Salesforce's REST sObject Rows resource for Leads, for test/fakes/webhook-tools.ts
 * (salesforce.get-lead and salesforce.update-lead). Refuses what Salesforce refuses:
 *
 * - `Authorization: Bearer <access token>`; anything else is 401
 *   `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`.
 *   Every error is a JSON array of `{ message, errorCode, fields? }`
 *   (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm).
 * - Paths are `/services/data/vNN.N/sobjects/Lead/{id}`; anything else, or an id
 *   with no lead (never there, deleted, merged), is 404 `NOT_FOUND`.
 * - GET `?fields=A,B` answers `attributes` plus those fields; PATCH with a JSON
 *   body sets the given fields and answers 204 with no body
 *   (https://developer.salesforce.com/docs/platform/api-rest/guide/dome-update-fields.html).
 *   A field the object lacks is 400 `INVALID_FIELD`; a system field (Id,
 *   IsConverted, SystemModstamp, …) is 400 `INVALID_FIELD_FOR_INSERT_UPDATE`; a
 *   converted lead cannot be updated: 400 `CANNOT_UPDATE_CONVERTED_LEAD`.
 * - Lead Status and Rating are standard picklists, which Salesforce cannot
 *   restrict: an unlisted value is stored, not refused
 *   (https://www.salesforceben.com/bad-value-for-restricted-picklist-field/), so
 *   the flow, not Salesforce, keeps the status to the org's values.
 */

export const SALESFORCE_TOKEN = '00D5e000000KQ2e!AQ4AQFakeAccessToken';

/** A Lead as the fake holds it, by API field name. */
export type FakeLead = Record<string, string | number | boolean | null>;

export interface SalesforceState {
  leads: Map<string, FakeLead>;
}

export interface SalesforceAnswer {
  status: number;
  /** null: no body (the 204 of a PATCH). */
  body: unknown;
  headers?: Record<string, string>;
}

/** The Lead fields the fake knows; a real org has more, and custom ones ending in __c. */
const LEAD_FIELDS = new Set([
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
  'LastModifiedDate',
  'SystemModstamp',
]);
const READ_ONLY = new Set(['Id', 'IsConverted', 'LastModifiedDate', 'SystemModstamp']);

const error = (status: number, errorCode: string, message: string, fields?: string[]): SalesforceAnswer => ({
  status,
  body: [{ message, errorCode, ...(fields ? { fields } : {}) }],
});
const notFound = () => error(404, 'NOT_FOUND', 'The requested resource does not exist');

/** Answers a /services/data request, or null when the path is not Salesforce's. */
export function salesforceRoute(
  state: SalesforceState,
  token: string,
  authorization: string | undefined,
  method: string,
  url: URL,
  body: unknown,
): SalesforceAnswer | null {
  if (!url.pathname.startsWith('/services/data/')) return null;
  if (authorization !== `Bearer ${token}`) return error(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
  const m = /^\/services\/data\/v\d{2,3}\.\d\/sobjects\/Lead\/([A-Za-z0-9]{15,18})$/.exec(url.pathname);
  const lead = m ? state.leads.get(m[1]!) : undefined;
  if (!lead) return notFound();
  if (method === 'GET') return readLead(lead, url);
  if (method === 'PATCH') return updateLead(lead, body);
  return error(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are GET,PATCH,HEAD,DELETE`);
}

function readLead(lead: FakeLead, url: URL): SalesforceAnswer {
  const wanted = (url.searchParams.get('fields') ?? [...LEAD_FIELDS].join(',')).split(',').filter(Boolean);
  const unknown = wanted.find((f) => !LEAD_FIELDS.has(f));
  if (unknown) return error(400, 'INVALID_FIELD', `No such column '${unknown}' on sobject of type Lead`);
  const shown = Object.fromEntries(wanted.map((f) => [f, lead[f] ?? null]));
  return {
    status: 200,
    body: { attributes: { type: 'Lead', url: `/services/data/v62.0/sobjects/Lead/${lead.Id}` }, ...shown },
  };
}

function updateLead(lead: FakeLead, body: unknown): SalesforceAnswer {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return error(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object of field values');
  const names = Object.keys(body);
  const unknown = names.find((f) => !LEAD_FIELDS.has(f));
  if (unknown) return error(400, 'INVALID_FIELD', `No such column '${unknown}' on sobject of type Lead`);
  const readOnly = names.filter((f) => READ_ONLY.has(f));
  if (readOnly.length > 0) {
    return error(
      400,
      'INVALID_FIELD_FOR_INSERT_UPDATE',
      `Unable to create/update fields: ${readOnly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
      readOnly,
    );
  }
  if (lead.IsConverted === true) return error(400, 'CANNOT_UPDATE_CONVERTED_LEAD', 'cannot reference converted lead');
  Object.assign(lead, body);
  lead.SystemModstamp = lead.LastModifiedDate = new Date().toISOString().replace('Z', '+0000');
  return { status: 204, body: null };
}
