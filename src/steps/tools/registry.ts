/**
 * The built-in tools, by name. Flows refer to tools by these names in their
 * `tools` list; the ToolBox refuses any name a flow does not list.
 */
import { hubspotGetContact, hubspotUpdateContact } from './connectors/hubspot.ts';
import { httpGet, httpPostJson } from './connectors/http-json.ts';
import { linearComment, linearUpdateIssue } from './connectors/linear.ts';
import { linearGetIssue } from './connectors/linear-get.ts';
import { salesforceGetLead, salesforceUpdateLead } from './connectors/salesforce.ts';
import { stripeRefund } from './connectors/stripe.ts';
import { zendeskReply, zendeskUpdate } from './connectors/zendesk.ts';
import { zendeskGetTicket } from './connectors/zendesk-get.ts';
import type { ToolDefinition } from './types.ts';

export const builtinTools: ToolDefinition[] = [
  zendeskReply,
  zendeskUpdate,
  linearUpdateIssue,
  linearComment,
  hubspotUpdateContact,
  hubspotGetContact,
  stripeRefund,
  httpGet,
  httpPostJson,
  zendeskGetTicket,
  linearGetIssue,
  salesforceGetLead,
  salesforceUpdateLead,
];
