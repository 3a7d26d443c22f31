/**
 * What every configured connector does with its settings: build the API URL,
 * authenticate, and name the host and fields on a review card. Kept here so
 * the connectors agree on how a card shows a call (RELIABILITY 83: the card
 * shows the real call).
 */
import type { ConnectorSettings, ProposedCall } from '../types.ts';

/** `path` under the connector's base URL (which config stores without a trailing slash). */
export function apiUrl(settings: ConnectorSettings, path: string): string {
  return `${settings.baseUrl.replace(/\/+$/, '')}${path}`;
}

/** `Authorization: Bearer <token>`, or nothing when the connector has no token. */
export function bearer(settings: ConnectorSettings): Record<string, string> {
  return settings.token ? { authorization: `Bearer ${settings.token}` } : {};
}

/**
 * Zendesk's two token schemes
 * (https://support.zendesk.com/hc/en-us/articles/4408831452954-How-can-I-authenticate-API-requests):
 * an API token goes with the agent's email as Basic `{email}/token:{api_token}`;
 * an OAuth access token is sent as Bearer. A Bearer API token gets 401.
 */
export function zendeskAuth(settings: ConnectorSettings): Record<string, string> {
  if (!settings.token) return {};
  if (!settings.email) return bearer(settings);
  const basic = Buffer.from(`${settings.email}/token:${settings.token}`, 'utf8').toString('base64');
  return { authorization: `Basic ${basic}` };
}

/** The host a card shows; an unconfigured connector runs in local mode and sends nothing. */
export function cardHost(settings: ConnectorSettings): string {
  return settings.baseUrl ? new URL(settings.baseUrl).host : 'not configured (local mode: nothing is sent)';
}

/** One field of a card: its new value and, where the input carries it, the value it replaces. */
export function field(name: string, value: unknown, old?: unknown): ProposedCall['fields'][number] {
  return old === undefined ? { name, new: shown(value) } : { name, old: shown(old), new: shown(value) };
}

/** Fields for every key of `changes` that is set, with the matching `previous` value. */
export function changedFields(
  changes: Record<string, unknown>,
  previous: Record<string, unknown> = {},
): ProposedCall['fields'] {
  return Object.entries(changes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => field(k, v, previous[k]));
}

function shown(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
