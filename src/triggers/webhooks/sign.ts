/**
 * Signs a payload the way each provider does, for `npm run webhook` (./send-cli.ts),
 * the end-to-end tests and the benchmark. Where the provider ships a signer it
 * is used (stripe's `generateTestHeaderString`, standardwebhooks' `sign`,
 * @octokit/webhooks-methods' `sign`); the rest follow the documented formulas.
 * Returns the headers to send (lower-case) and the path to post to.
 */
import { randomUUID } from 'node:crypto';
import { sign as signGithub } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import type { PresetName } from './types.ts';
import { digest } from './verifiers/hmac-core.ts';
import { hubspotSignature, hubspotSignedUri } from './verifiers/hubspot.ts';

export interface SignInput {
  preset: PresetName;
  /** The source name, the URL segment. */
  source: string;
  secret: string;
  body: Buffer;
  /** SIGNOFF_PUBLIC_URL, for HubSpot. */
  publicUrl?: string | null;
  nowMs?: number;
  /** A delivery id to send (a retry sends the same one). Default a fresh UUID. */
  deliveryId?: string;
  /** The event name, where it travels in a header (GitHub's X-GitHub-Event, Linear-Event). */
  event?: string;
}

export interface SignedRequest {
  path: string;
  headers: Record<string, string>;
}

export async function signWebhook(input: SignInput): Promise<SignedRequest> {
  const nowMs = input.nowMs ?? Date.now();
  const id = input.deliveryId ?? randomUUID();
  const path =
    input.preset === 'salesforce' ? `/webhooks/${input.source}/${input.secret}` : `/webhooks/${input.source}`;
  const json = { 'content-type': 'application/json' };
  switch (input.preset) {
    case 'zendesk': {
      const ts = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
      return {
        path,
        headers: {
          ...json,
          'x-zendesk-webhook-signature-timestamp': ts,
          'x-zendesk-webhook-invocation-id': id,
          'x-zendesk-webhook-signature': digest('sha256', input.secret, [ts, input.body], 'base64'),
        },
      };
    }
    case 'hubspot': {
      const ts = String(nowMs);
      const uri = hubspotSignedUri(input.publicUrl ?? 'http://127.0.0.1:3000', path);
      return {
        path,
        headers: {
          ...json,
          'x-hubspot-request-timestamp': ts,
          'x-hubspot-signature-v3': hubspotSignature(input.secret, 'POST', uri, input.body, ts),
        },
      };
    }
    case 'linear':
      return {
        path,
        headers: {
          ...json,
          'linear-delivery': id,
          'linear-event': input.event ?? 'Issue',
          'linear-signature': digest('sha256', input.secret, [input.body], 'hex'),
        },
      };
    case 'jira':
      return {
        path,
        headers: {
          ...json,
          'x-atlassian-webhook-identifier': id,
          'x-hub-signature': `sha256=${digest('sha256', input.secret, [input.body], 'hex')}`,
        },
      };
    case 'intercom':
      return {
        path,
        headers: { ...json, 'x-hub-signature': `sha1=${digest('sha1', input.secret, [input.body], 'hex')}` },
      };
    case 'github':
      return {
        path,
        headers: {
          ...json,
          'x-github-delivery': id,
          'x-github-event': input.event ?? 'issues',
          'x-hub-signature-256': await signGithub(input.secret, input.body.toString('utf8')),
        },
      };
    case 'stripe':
      return {
        path,
        headers: {
          ...json,
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({
            payload: input.body.toString('utf8'),
            secret: input.secret,
            timestamp: Math.floor(nowMs / 1000),
          }),
        },
      };
    case 'standard': {
      const at = new Date(Math.floor(nowMs / 1000) * 1000);
      return {
        path,
        headers: {
          ...json,
          'webhook-id': id,
          'webhook-timestamp': String(at.getTime() / 1000),
          'webhook-signature': new Webhook(input.secret).sign(id, at, input.body.toString('utf8')),
        },
      };
    }
    case 'salesforce':
      return { path, headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' } };
    case 'hmac':
      // The default scheme of the hmac preset: hex SHA-256 of the body in x-signature.
      return { path, headers: { ...json, 'x-signature': digest('sha256', input.secret, [input.body], 'hex') } };
  }
}
