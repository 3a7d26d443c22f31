/** WEBHOOK_* variables through readConfig: sources, presets, rotation lists, and every problem in one message. */
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../../src/config.ts';
import { isSignoffError } from '../../../src/errors.ts';

describe('webhook settings', () => {
  it('makes a source per WEBHOOK_<SOURCE>_SECRET, using the preset of its name or WEBHOOK_<SOURCE>_PRESET', () => {
    const c = readConfig({
      WEBHOOK_ZENDESK_SECRET: 'a, b',
      WEBHOOK_ZENDESK_EU_SECRET: 'c',
      WEBHOOK_ZENDESK_EU_PRESET: 'zendesk',
      WEBHOOK_HUBSPOT_SECRET: 'h',
      SIGNOFF_PUBLIC_URL: 'https://signoff.example.com/',
      WEBHOOK_ACME_SECRET: 's',
      WEBHOOK_ACME_PRESET: 'hmac',
      WEBHOOK_ACME_HEADER: 'X-Acme-Signature',
      WEBHOOK_ACME_PREFIX: 'sha256=',
    });
    expect(Object.keys(c.webhooks.sources).sort()).toEqual(['acme', 'hubspot', 'zendesk', 'zendesk_eu']);
    expect(c.webhooks.sources.zendesk).toMatchObject({ preset: 'zendesk', secrets: ['a', 'b'] });
    expect(c.webhooks.sources.zendesk_eu).toMatchObject({ preset: 'zendesk', secrets: ['c'] });
    expect(c.webhooks.sources.acme!.hmac).toMatchObject({
      header: 'x-acme-signature',
      algorithm: 'sha256',
      encoding: 'hex',
      prefix: 'sha256=',
      signed: 'body',
    });
    expect([c.webhooks.publicUrl, c.webhooks.maxBodyBytes, c.webhooks.tenant]).toEqual([
      'https://signoff.example.com',
      1_048_576,
      'local',
    ]);
  });

  it('reports every webhook problem in one message that says how to fix it', () => {
    let error: unknown;
    try {
      readConfig({
        WEBHOOK_SHOPIFY_SECRET: 'x',
        WEBHOOK_HUBSPOT_SECRET: 'h',
        WEBHOOK_SALESFORCE_SECRET: 'short',
        WEBHOOK_GENERIC_SECRET: 'g',
        WEBHOOK_GENERIC_PRESET: 'hmac',
        WEBHOOK_GENERIC_ALGORITHM: 'md5',
        WEBHOOK_MAX_BODY_BYTES: '10',
      });
    } catch (err) {
      error = err;
    }
    expect(isSignoffError(error, 'config_invalid')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('WEBHOOK_SHOPIFY_PRESET must be one of zendesk, hubspot');
    expect(message).toContain('set SIGNOFF_PUBLIC_URL to the public base URL HubSpot posts to');
    expect(message).toContain('WEBHOOK_SALESFORCE_ORG_ID must be your Salesforce OrganizationId');
    expect(message).toContain('WEBHOOK_SALESFORCE_SECRET is the path secret');
    expect(message).toContain('WEBHOOK_GENERIC_HEADER names the signature header');
    expect(message).toContain('WEBHOOK_GENERIC_ALGORITHM must be one of sha1, sha256, sha512');
    expect(message).toContain('WEBHOOK_MAX_BODY_BYTES');
  });

  it('serves no webhooks when none is configured', () => {
    expect(readConfig({}).webhooks.sources).toEqual({});
  });
});
