/**
 * The shapes shared by webhook ingress (./ingress.ts), its presets
 * (./presets.ts) and the pure verifiers (./verifiers/*). A verifier gets the
 * request exactly as it arrived (raw bytes, headers, the clock) and says
 * whether it is genuine and fresh; it never parses before verifying and never
 * touches the database.
 */

/** A request as the verifier sees it. Header names are lower-case (Node gives them so). */
export interface WebhookRequest {
  method: string;
  /** The path and query as received (`/webhooks/hubspot?x=1`); never a host. */
  pathAndQuery: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body exactly as received, already capped by the ingress. */
  rawBody: Buffer;
  /** The receiver's clock, in ms since the epoch (tests inject it). */
  nowMs: number;
}

/** Why a request was refused. Logged for the operator; the sender only ever sees the status. */
/** Why a request was refused; `isStale` when its timestamp is outside the preset's window (counted apart from bad signatures). */
export type Refusal = { ok: false; status: 401 | 403 | 400; reason: string; isStale?: true };

/** One event of a verified delivery (a HubSpot body holds up to 100). */
export interface Delivery {
  /** The provider's own delivery or event id: the inbox dedupe key. */
  key: string;
  /** The event type, normalised per preset (`ticket.created`, `contact.creation`, `charge.dispute.created`). */
  event: string;
  /** The event's payload, as a flow's trigger `input` mapping reads it. */
  payload: unknown;
  /**
   * The record's version, for providers that deliver out of order and say how new
   * their data is (a Salesforce sObject's SystemModstamp). A delivery whose version
   * is not newer than one already seen for the record starts nothing (./accept.ts).
   */
  version?: RecordVersion;
}

/** Which record a delivery reports, and as of when (ISO 8601). */
export interface RecordVersion {
  recordId: string;
  at: string;
}

/**
 * A verified delivery. `replayKey`, when set, is a second inbox key derived from
 * the signed bytes, for providers whose delivery id header is not signed.
 */
export type Parsed = { ok: true; deliveries: Delivery[]; replayKey?: string } | Refusal;

/** One source's verification settings, from WEBHOOK_<SOURCE>_* (src/config.ts). */
export interface SourceSettings {
  /** The URL segment: `/webhooks/<name>`. Lower-case. */
  name: string;
  /** Which preset verifies it (WEBHOOK_<SOURCE>_PRESET, default the source name). */
  preset: PresetName;
  /** Every listed secret verifies (rotation). Salesforce signs nothing: its secrets are the accepted last path segments. */
  secrets: readonly string[];
  /** Salesforce: the OrganizationId a message must carry (WEBHOOK_<SOURCE>_ORG_ID). */
  orgId: string | null;
  /** The generic `hmac` preset's scheme; null for the others. */
  hmac: HmacScheme | null;
}

export type PresetName =
  'zendesk' | 'hubspot' | 'linear' | 'jira' | 'intercom' | 'github' | 'stripe' | 'standard' | 'salesforce' | 'hmac';

export const PRESET_NAMES: readonly PresetName[] = [
  'zendesk',
  'hubspot',
  'linear',
  'jira',
  'intercom',
  'github',
  'stripe',
  'standard',
  'salesforce',
  'hmac',
];

/** The generic HMAC scheme, for a sender none of the presets match. */
export interface HmacScheme {
  /** Header carrying the signature (WEBHOOK_<S>_HEADER), lower-case. */
  header: string;
  algorithm: 'sha1' | 'sha256' | 'sha512';
  encoding: 'hex' | 'base64';
  /** Text before the signature in the header, e.g. `sha256=` (WEBHOOK_<S>_PREFIX). Default none. */
  prefix: string;
  /** What is signed: the body, or `<timestamp><separator><body>` with the timestamp from `timestampHeader`. */
  signed: 'body' | 'timestamp-body';
  timestampHeader: string | null;
  /** Between timestamp and body when `signed` is `timestamp-body` (WEBHOOK_<S>_SEPARATOR). Default `.`. */
  separator: string;
  /** Most a timestamp (seconds) may differ from our clock, either way. Default 300. */
  toleranceSec: number;
  /** Header carrying the delivery id; without one the body's SHA-256 is the dedupe key. */
  idHeader: string | null;
  /** Header naming the event type; without one the body's `type` field, else `webhook`. */
  eventHeader: string | null;
}

/** Everything ingress needs from the config. */
export interface WebhookSettings {
  /** Source name → its settings. Empty: no webhooks are served. */
  sources: Readonly<Record<string, SourceSettings>>;
  /** The public base URL senders use (SIGNOFF_PUBLIC_URL), e.g. https://signoff.example.com. HubSpot v3 signs it. */
  publicUrl: string | null;
  /** Largest body accepted, in bytes, before anything is hashed (WEBHOOK_MAX_BODY_BYTES). Default 1 MiB. */
  maxBodyBytes: number;
  /** The tenant runs started by webhooks belong to (WEBHOOK_TENANT). Default `local`, the web chat's. */
  tenant: string;
}

export function header(req: WebhookRequest, name: string): string | null {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first.length > 0 ? first : null;
}

export function refuse(status: Refusal['status'], reason: string): Refusal {
  return { ok: false, status, reason };
}

/** A 401 for a timestamp outside the replay window. */
export function refuseStale(reason: string): Refusal {
  return { ok: false, status: 401, reason, isStale: true };
}
