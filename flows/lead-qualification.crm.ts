/**
 * lead-qualification's CRM side: where a lead is read, which statuses each CRM
 * takes, and the write an approval allows, for HubSpot contacts and Salesforce
 * leads alike. Kept beside the flow so its machine file stays the state list;
 * every function here is pure but the `fetchContact` step.
 */
import { step } from '../src/authoring/index.ts';

/** The lead as the flow's input schema gives it: one of the two ids. */
interface LeadIds {
  contactId?: string;
  leadId?: string;
}

export type Crm = 'hubspot' | 'salesforce';

/** The record as read from its CRM, under that CRM's own field names. */
export interface Contact {
  crm: Crm;
  /** The HubSpot contact id or the Salesforce Lead id. */
  recordId: string;
  properties: Record<string, string | null>;
  /** False when it was deleted or merged since (or, in Salesforce, converted: it can no longer be updated). */
  exists: boolean;
  updatedAt: string | null;
}

/**
 * The statuses a reviewer may pick: HubSpot's default `hs_lead_status` options, and
 * Salesforce's default Lead Status values but the converted one (a lead is
 * converted by conversion, not by a write). Salesforce cannot restrict the
 * standard Status picklist, so the flow keeps to these.
 */
export const STATUSES: Readonly<Record<Crm, readonly string[]>> = {
  hubspot: [
    'NEW',
    'OPEN',
    'IN_PROGRESS',
    'OPEN_DEAL',
    'UNQUALIFIED',
    'ATTEMPTED_TO_CONTACT',
    'CONNECTED',
    'BAD_TIMING',
  ],
  salesforce: ['Open - Not Contacted', 'Working - Contacted', 'Closed - Not Converted'],
};
/** What a score proposes: qualified from QUALIFIED_SCORE up. */
export const PROPOSED: Readonly<Record<Crm, { qualified: string; unqualified: string }>> = {
  hubspot: { qualified: 'OPEN', unqualified: 'UNQUALIFIED' },
  salesforce: { qualified: 'Working - Contacted', unqualified: 'Closed - Not Converted' },
};
export const QUALIFIED_SCORE = 60;

/** A status as the CRM spells it, or null when it is not one of STATUSES. */
export function canonicalStatus(crm: Crm, raw: string): string | null {
  const wanted = raw.trim().toLowerCase();
  return STATUSES[crm].find((s) => s.toLowerCase() === wanted) ?? null;
}

/** The write an approval allows: what the card shows and exactly what `update` sends. */
export function updateCall(contact: Contact, status: string) {
  const isQualified = status !== PROPOSED[contact.crm].unqualified;
  const previousOf = (changes: Record<string, string>) =>
    Object.fromEntries(Object.keys(changes).map((k) => [k, contact.properties[k] ?? '']));
  if (contact.crm === 'salesforce') {
    const fields = { Status: status, Rating: isQualified ? 'Hot' : 'Cold' };
    return {
      tool: 'salesforce.update-lead',
      input: { leadId: contact.recordId, fields, previous: previousOf(fields) },
    };
  }
  const properties = { hs_lead_status: status, ...(isQualified ? { lifecyclestage: 'salesqualifiedlead' } : {}) };
  return {
    tool: 'hubspot.update-contact',
    input: { contactId: contact.recordId, properties, previous: previousOf(properties) },
  };
}

/** The fields the score prompt and the card read, from either CRM's names. */
export function personOf({ crm, properties: p }: Contact) {
  const sf = crm === 'salesforce';
  return {
    name: [sf ? p.FirstName : p.firstname, sf ? p.LastName : p.lastname].filter(Boolean).join(' ') || 'unknown',
    email: (sf ? p.Email : p.email) ?? null,
    company: (sf ? p.Company : p.company) ?? 'unknown',
    jobtitle: (sf ? p.Title : p.jobtitle) ?? 'unknown',
    employees: (sf ? p.NumberOfEmployees : p.numemployees) ?? 'unknown',
    website: (sf ? p.Website : p.website) ?? 'unknown',
    lifecyclestage: (sf ? p.Status : p.lifecyclestage) ?? 'unknown',
  };
}

/** Reads the record in the CRM it came from. */
export const fetchContact = step(
  async (lead: LeadIds, ctx): Promise<Contact> => {
    if (lead.leadId) {
      const read = (await ctx.services.callTool('salesforce.get-lead', { leadId: lead.leadId })) as {
        leadId: string;
        exists: boolean;
        fields: Record<string, string | null>;
        updatedAt: string | null;
      };
      const isConverted = read.fields.IsConverted === 'true';
      const { leadId: recordId, fields: properties, updatedAt } = read;
      return { crm: 'salesforce', recordId, properties, exists: read.exists && !isConverted, updatedAt };
    }
    const read = (await ctx.services.callTool('hubspot.get-contact', { contactId: lead.contactId })) as Omit<
      Contact,
      'crm' | 'recordId'
    > & { contactId: string };
    const { contactId: recordId, properties, exists, updatedAt } = read;
    return { crm: 'hubspot', recordId, properties, exists, updatedAt };
  },
  { maxAttempts: 5, backoffMs: 2_000 },
);
