/**
 * lead-qualification: a contact is created in HubSpot (`contact.creation`
 * webhook), a Salesforce Lead outbound message arrives, or someone runs
 * `/signoff run lead-qualification contactId=123` (or `leadId=00Q…`).
 * Webhooks carry only ids, or data as of their sending, and arrive out of order
 * (RELIABILITY 28), so the flow first reads the record as it is now in the CRM it
 * came from (`hubspot.get-contact`, `salesforce.get-lead`); one deleted, merged
 * or converted since ends the run. The cheap model scores and summarises it, a
 * sales lead reviews (and may edit the summary and the status), and the approved
 * status is written back to the same CRM (`hubspot.update-contact`, or
 * `salesforce.update-lead`: Status and Rating), showing old → new on the card.
 */
import { z } from 'zod';
import { assign, defineFlow, modelStep, review, setup, step, type ModelStepOutput } from '../src/authoring/index.ts';
import {
  canonicalStatus,
  fetchContact,
  personOf,
  PROPOSED,
  QUALIFIED_SCORE,
  STATUSES,
  updateCall,
  type Contact,
} from './lead-qualification.crm.ts';

const Lead = z
  .object({
    contactId: z
      .string()
      .regex(/^\d{1,20}$/, 'contactId must be the HubSpot contact id')
      .optional(),
    leadId: z
      .string()
      .regex(/^00Q[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/, 'leadId must be a Salesforce Lead id (00Q…)')
      .optional(),
    /** The event's occurredAt (ms), for the card; the contact itself is read fresh. */
    occurredAt: z.number().int().optional(),
  })
  .refine((l) => (l.contactId === undefined) !== (l.leadId === undefined), {
    message: 'give contactId (a HubSpot contact) or leadId (a Salesforce lead), one of them',
    path: ['contactId'],
  });
type Lead = z.infer<typeof Lead>;

const Score = z.object({ score: z.number().int().min(0).max(100), summary: z.string().min(1).max(1_000) });
type Score = z.infer<typeof Score>;

/** HubSpot's contact.creation event (developers.hubspot.com webhooks: one element of the batch). */
interface ContactCreation {
  objectId: number | string;
  occurredAt: number;
}

/** Salesforce Lead outbound message (src/triggers/webhooks/verifiers/salesforce.ts): the sObject's fields. */
interface LeadNotification {
  fields: { Id: string };
}

const scoreLead = modelStep({
  route: 'cheap',
  prompt: new URL('./prompts/lead-qualification.score.md', import.meta.url),
  output: Score,
  maxOutputTokens: 300,
  vars: (contact: Contact) => {
    const person = personOf(contact);
    return { ...person, email: person.email ?? 'unknown' };
  },
});

const leadReview = review<{ summary: string; status: string }>({
  approvers: { groups: ['sales-leads'] },
  allowEdit: true,
  expiresInMs: 3 * 24 * 60 * 60_000,
  remindAtMs: [24 * 60 * 60_000],
});

const update = step(
  async ({ contact, status }: { contact: Contact; status: string }, ctx) => {
    const call = updateCall(contact, status);
    return ctx.services.callTool(call.tool, call.input);
  },
  { maxAttempts: 5, backoffMs: 2_000 },
);

function scoreFields(score: ModelStepOutput<Score>): { label: string; value: string }[] {
  if (!score.value)
    return [
      {
        label: 'Model problem',
        value: `The model's answer was not usable (${score.invalid?.reason ?? 'no answer'}). Write the summary yourself.`,
      },
    ];
  return [
    { label: 'Score', value: `${score.value.score} / 100 (${score.offline ? 'offline stand-in model' : score.model})` },
  ];
}

const machine = setup({
  types: {} as {
    input: Lead;
    context: {
      lead: Lead;
      contact: Contact;
      summary: string;
      status: string;
      scoreInfo: { label: string; value: string }[];
      approvedBy: string[];
    };
  },
  actors: { fetchContact, scoreLead, leadReview, update },
  guards: {
    isGone: ({ event }) => !(event as unknown as { output: Contact }).output.exists,
    isValidStatus: ({ context, event }) =>
      canonicalStatus(context.contact.crm, (event as unknown as { content: { status: string } }).content.status) !==
      null,
  },
}).createMachine({
  id: 'lead-qualification',
  context: ({ input }) => ({
    lead: input,
    contact: {
      crm: input.leadId ? 'salesforce' : 'hubspot',
      recordId: input.leadId ?? input.contactId ?? '',
      properties: {},
      exists: false,
      updatedAt: null,
    },
    summary: '',
    status: 'NEW',
    scoreInfo: [],
    approvedBy: [],
  }),
  initial: 'fetching',
  states: {
    fetching: {
      invoke: {
        src: 'fetchContact',
        input: ({ context }) => context.lead,
        onDone: [
          { guard: 'isGone', target: 'gone' },
          { target: 'scoring', actions: assign({ contact: ({ event }) => event.output }) },
        ],
      },
    },
    scoring: {
      invoke: {
        src: 'scoreLead',
        input: ({ context }) => context.contact,
        onDone: {
          target: 'awaitingReview',
          actions: assign({
            summary: ({ event }) => event.output.value?.summary ?? '',
            status: ({ context, event }) =>
              PROPOSED[context.contact.crm][
                (event.output.value?.score ?? 0) >= QUALIFIED_SCORE ? 'qualified' : 'unqualified'
              ],
            scoreInfo: ({ event }) => scoreFields(event.output),
          }),
        },
      },
    },
    awaitingReview: {
      invoke: {
        src: 'leadReview',
        input: ({ context }) => ({
          title: `New lead: ${personOf(context.contact).email ?? `${context.contact.crm === 'salesforce' ? 'lead' : 'contact'} ${context.contact.recordId}`}`,
          fields: [
            { label: 'Company', value: personOf(context.contact).company },
            { label: 'Job title', value: personOf(context.contact).jobtitle },
            ...context.scoreInfo,
            { label: 'Status values', value: STATUSES[context.contact.crm].join(', ') },
          ],
          content: { summary: context.summary, status: context.status },
          proposedAction: updateCall(context.contact, context.status),
        }),
      },
      on: {
        'review.approved': [
          {
            guard: 'isValidStatus',
            target: 'updating',
            actions: assign({
              status: ({ context, event }) => canonicalStatus(context.contact.crm, event.content.status)!,
              summary: ({ event }) => event.content.summary,
              approvedBy: ({ event }) => event.by,
            }),
          },
          { target: 'invalidStatus' },
        ],
        'review.rejected': { target: 'rejected' },
        'review.expired': { target: 'expired' },
      },
    },
    updating: {
      invoke: {
        src: 'update',
        input: ({ context }) => ({ contact: context.contact, status: context.status }),
        onDone: 'updated',
      },
    },
    updated: { type: 'final' },
    gone: { type: 'final' },
    invalidStatus: { type: 'final' },
    rejected: { type: 'final' },
    expired: { type: 'final' },
  },
  output: ({ context }) => ({
    contactId: context.contact.recordId,
    status: context.status,
    approvedBy: context.approvedBy,
  }),
});

export default defineFlow({
  id: 'lead-qualification',
  title: 'Score a new HubSpot contact or Salesforce lead; a sales lead reviews before its status is written back',
  input: Lead,
  triggers: [
    { kind: 'command' },
    {
      kind: 'webhook',
      source: 'hubspot',
      events: ['contact.creation'],
      input: (e: ContactCreation) => ({ contactId: String(e.objectId), occurredAt: e.occurredAt }),
    },
    // A Salesforce outbound message on Lead (Setup → Outbound Messages; docs/webhooks.md): one run per Notification.
    {
      kind: 'webhook',
      source: 'salesforce',
      events: ['lead'],
      input: (n: LeadNotification) => ({ leadId: n.fields.Id }),
    },
  ],
  tools: ['hubspot.get-contact', 'hubspot.update-contact', 'salesforce.get-lead', 'salesforce.update-lead'],
  machine,
});
