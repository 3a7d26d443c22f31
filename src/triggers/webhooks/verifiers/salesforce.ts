/**
 * Salesforce outbound messages (SOAP 1.1). They carry no signature
 * (developer.salesforce.com/docs/platform/api/guide/sforce-api-om-outboundmessaging-wsdl.html),
 * so a source is bound two ways: an unguessable last path segment
 * (WEBHOOK_<S>_PATH_SECRET, checked by the ingress in constant time) and the
 * `OrganizationId` the message must carry (WEBHOOK_<S>_ORG_ID). Each message
 * holds up to 100 `Notification`s, each with its own `Id`, which Salesforce
 * resends until it reads `<Ack>true</Ack>`: the Id is the dedupe key, and a
 * duplicate is still acknowledged. A wrong org gets a SOAP fault. Messages are
 * retried "independent of their order in the queue"
 * (developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_notifications.htm),
 * so each delivery carries its record's version, the sObject's SystemModstamp (or
 * LastModifiedDate) when the outbound message includes it: ../accept.ts starts
 * nothing for a notification older than one already seen (RELIABILITY 25).
 *
 * The XML is read with a small, strict scanner: no DTDs or entities beyond the
 * five predefined ones and numeric references (no XXE), element prefixes ignored.
 */
import { isSameSecret } from './hmac-core.ts';
import {
  refuse,
  type Delivery,
  type Parsed,
  type RecordVersion,
  type SourceSettings,
  type WebhookRequest,
} from '../types.ts';

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** What Salesforce expects back for a message it may stop resending. */
export const SALESFORCE_ACK =
  '<?xml version="1.0" encoding="UTF-8"?>' +
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
  '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>' +
  '</soapenv:Body></soapenv:Envelope>';

/** A SOAP 1.1 fault (sent with HTTP 500, as SOAP 1.1 requires); the text names no internals. */
export function salesforceFault(text: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault>' +
    `<faultcode>soapenv:Client</faultcode><faultstring>${escapeXml(text)}</faultstring>` +
    '</soapenv:Fault></soapenv:Body></soapenv:Envelope>'
  );
}

export function verifySalesforceRequest(req: WebhookRequest, source: SourceSettings): Parsed {
  const xml = req.rawBody.toString('utf8');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return refuse(400, 'a Salesforce message has no DTD');
  const orgId = firstText(xml, 'OrganizationId');
  if (!orgId || !source.orgId || !isSameOrg(orgId, source.orgId))
    return refuse(403, 'OrganizationId does not match WEBHOOK_<SOURCE>_ORG_ID');
  const deliveries: Delivery[] = [];
  for (const body of elements(xml, 'Notification')) {
    const id = firstText(body, 'Id');
    const sObject = /<(?:[\w-]+:)?sObject\b([^>]*)>([\s\S]*?)<\/(?:[\w-]+:)?sObject>/.exec(body);
    if (!id || !sObject) return refuse(400, 'a Salesforce Notification needs an Id and an sObject');
    const type = /xsi:type="(?:[\w-]+:)?(\w+)"/.exec(sObject[1]!)?.[1] ?? 'sobject';
    const fields = fieldsOf(sObject[2]!);
    const version = versionOf(fields);
    deliveries.push({
      key: id,
      event: type.toLowerCase(),
      payload: { organizationId: orgId, notificationId: id, type, fields },
      ...(version ? { version } : {}),
    });
  }
  if (deliveries.length === 0 || deliveries.length > 100)
    return refuse(400, 'a Salesforce message holds 1 to 100 Notifications');
  return { ok: true, deliveries };
}

/**
 * The record's id and version. SystemModstamp moves on every change, system ones
 * included; LastModifiedDate only on a user's. Without either (the outbound
 * message does not select them) a notification cannot be ordered.
 */
function versionOf(fields: Record<string, string>): RecordVersion | null {
  const stamp = fields.SystemModstamp ?? fields.LastModifiedDate;
  const atMs = stamp ? Date.parse(stamp) : NaN;
  if (!fields.Id || !Number.isFinite(atMs)) return null;
  return { recordId: fields.Id, at: new Date(atMs).toISOString() };
}

/** 15- and 18-character ids name the same org when the first 15 agree (the 3 extra are a case checksum). */
function isSameOrg(received: string, configured: string): boolean {
  const n = Math.min(received.length, configured.length, 18);
  return n >= 15 && isSameSecret(configured.slice(0, n), received.slice(0, n));
}

function elements(xml: string, name: string): string[] {
  const re = new RegExp(`<(?:[\\w-]+:)?${name}\\b[^>]*>([\\s\\S]*?)</(?:[\\w-]+:)?${name}>`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1]!);
}

function firstText(xml: string, name: string): string | null {
  const inner = elements(xml, name)[0];
  return inner === undefined || inner.includes('<') ? null : decodeXml(inner.trim());
}

/** The sObject's fields, prefix-free: `<sf:Email>a@b</sf:Email>` → `{ Email: 'a@b' }`. */
function fieldsOf(xml: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of xml.matchAll(/<(?:[\w-]+:)?(\w+)\b[^>]*>([^<]*)<\/(?:[\w-]+:)?\1>/g))
    fields[m[1]!] = decodeXml(m[2]!);
  return fields;
}

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, ref: string) => {
    if (ref.startsWith('#x') || ref.startsWith('#X')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&${Object.entries(ENTITIES).find(([, v]) => v === c)![0]};`);
}
