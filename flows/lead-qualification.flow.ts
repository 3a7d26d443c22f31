/**
 * lead-qualification: a contact is created in HubSpot (`contact.creation`
 * webhook) or someone runs `/signoff run lead-qualification contactId=123`.
 * The webhook carries only the contact's id and may arrive out of order with its
 * updates (RELIABILITY 28), so the flow first reads the contact as it is now
 * (`hubspot.get-contact`); a contact deleted or merged since then ends the run.
 * The cheap model scores and summarises it, a sales lead reviews (and may edit
 * the summary and the status), and the approved status is written back with
 * `hubspot.update-contact`, showing old → new on the card.
 */
import { z } from 'zod';
import {
  assign,
  defineFlow,
  modelStep,
  review,
  setup,
  toolStep,
  type ModelStepOutput,
} from '../src/authoring/index.ts';

const Lead = z.object({
  contactId: z.string().regex(/^\d{1,20}$/, 'contactId must be the HubSpot contact id'),
  /** The event's occurredAt (ms), for the card; the contact itself is read fresh. */
  occurredAt: z.number().int().optional(),
});
type Lead = z.infer<typeof Lead>;

interface Contact {
  contactId: string;
  properties: Record<string, string | null>;
  exists: boolean;
  updatedAt: string | null;
}

const Score = z.object({ score: z.number().int().min(0).max(100), summary: z.string().min(1).max(1_000) });
type Score = z.infer<typeof Score>;

/** HubSpot's `hs_lead_status` values a reviewer may pick (HubSpot's default options). */
const STATUSES = [
  'NEW',
  'OPEN',
  'IN_PROGRESS',
  'OPEN_DEAL',
  'UNQUALIFIED',
  'ATTEMPTED_TO_CONTACT',
  'CONNECTED',
  'BAD_TIMING',
];
/** Scores from here up are proposed as sales-qualified. */
const QUALIFIED_SCORE = 60;

/** HubSpot's contact.creation event (developers.hubspot.com webhooks: one element of the batch). */
interface ContactCreation {
  objectId: number | string;
  occurredAt: number;
}

/** The write an approval allows: what the card shows and exactly what `update` sends. */
function updateCall(contact: Contact, status: string) {
  const properties = {
    hs_lead_status: status,
    ...(status === 'UNQUALIFIED' ? {} : { lifecyclestage: 'salesqualifiedlead' }),
  };
  const previous = Object.fromEntries(Object.keys(properties).map((k) => [k, contact.properties[k] ?? '']));
  return { tool: 'hubspot.update-contact', input: { contactId: contact.contactId, properties, previous } };
}

const fetchContact = toolStep<Lead, Contact>('hubspot.get-contact', (lead) => ({ contactId: lead.contactId }));

const scoreLead = modelStep({
  route: 'cheap',
  prompt: new URL('./prompts/lead-qualification.score.md', import.meta.url),
  output: Score,
  maxOutputTokens: 300,
  vars: ({ properties: p }: Contact) => ({
    name: [p.firstname, p.lastname].filter(Boolean).join(' ') || 'unknown',
    email: p.email ?? 'unknown',
    company: p.company ?? 'unknown',
    jobtitle: p.jobtitle ?? 'unknown',
    employees: p.numemployees ?? 'unknown',
    website: p.website ?? 'unknown',
    lifecyclestage: p.lifecyclestage ?? 'unknown',
  }),
});

const leadReview = review<{ summary: string; status: string }>({
  approvers: { groups: ['sales-leads'] },
  allowEdit: true,
  expiresInMs: 3 * 24 * 60 * 60_000,
  remindAtMs: [24 * 60 * 60_000],
});

const update = toolStep<{ contact: Contact; status: string }>(
  'hubspot.update-contact',
  ({ contact, status }) => updateCall(contact, status).input,
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
    isValidStatus: ({ event }) =>
      STATUSES.includes((event as unknown as { content: { status: string } }).content.status.trim().toUpperCase()),
  },
}).createMachine({
  id: 'lead-qualification',
  context: ({ input }) => ({
    lead: input,
    contact: { contactId: input.contactId, properties: {}, exists: false, updatedAt: null },
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
            status: ({ event }) => ((event.output.value?.score ?? 0) >= QUALIFIED_SCORE ? 'OPEN' : 'UNQUALIFIED'),
            scoreInfo: ({ event }) => scoreFields(event.output),
          }),
        },
      },
    },
    awaitingReview: {
      invoke: {
        src: 'leadReview',
        input: ({ context }) => ({
          title: `New lead: ${context.contact.properties.email ?? `contact ${context.contact.contactId}`}`,
          fields: [
            { label: 'Company', value: context.contact.properties.company ?? 'unknown' },
            { label: 'Job title', value: context.contact.properties.jobtitle ?? 'unknown' },
            ...context.scoreInfo,
            { label: 'Status values', value: STATUSES.join(', ') },
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
              status: ({ event }) => event.content.status.trim().toUpperCase(),
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
    contactId: context.lead.contactId,
    status: context.status,
    approvedBy: context.approvedBy,
  }),
});

export default defineFlow({
  id: 'lead-qualification',
  title: 'Score a new HubSpot contact; a sales lead reviews before its status is written back',
  input: Lead,
  triggers: [
    { kind: 'command' },
    {
      kind: 'webhook',
      source: 'hubspot',
      events: ['contact.creation'],
      input: (e: ContactCreation) => ({ contactId: String(e.objectId), occurredAt: e.occurredAt }),
    },
  ],
  tools: ['hubspot.get-contact', 'hubspot.update-contact'],
  machine,
});
