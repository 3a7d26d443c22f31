/**
 * Preset name → its verifier. A source (`/webhooks/<source>`) uses the preset
 * of its own name unless WEBHOOK_<SOURCE>_PRESET picks another, so two Zendesk
 * accounts with their own secrets can coexist (`zendesk`, `zendesk_eu`).
 */
import type { Parsed, PresetName, SourceSettings, WebhookRequest } from './types.ts';
import { verifyHmacRequest } from './verifiers/generic-hmac.ts';
import { verifyGithubRequest, verifyIntercomRequest, verifyJiraRequest } from './verifiers/hub-signature.ts';
import { verifyHubspotRequest } from './verifiers/hubspot.ts';
import { verifyLinearRequest } from './verifiers/linear.ts';
import { verifySalesforceRequest } from './verifiers/salesforce.ts';
import { verifyStandardRequest } from './verifiers/standard.ts';
import { verifyStripeRequest } from './verifiers/stripe.ts';
import { verifyZendeskRequest } from './verifiers/zendesk.ts';

export type Verifier = (
  req: WebhookRequest,
  source: SourceSettings,
  publicUrl: string | null,
) => Parsed | Promise<Parsed>;

export const VERIFIERS: Readonly<Record<PresetName, Verifier>> = {
  zendesk: verifyZendeskRequest,
  hubspot: verifyHubspotRequest,
  linear: verifyLinearRequest,
  jira: verifyJiraRequest,
  intercom: verifyIntercomRequest,
  github: verifyGithubRequest,
  stripe: verifyStripeRequest,
  standard: verifyStandardRequest,
  salesforce: verifySalesforceRequest,
  hmac: verifyHmacRequest,
};
