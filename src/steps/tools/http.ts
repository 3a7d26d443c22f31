/**
 * HTTP for tools, behind the egress guard (RELIABILITY 84). It owns the rules
 * of which URL may be reached; it knows nothing of tools, retries or status
 * codes (the ToolBox maps those).
 *
 * A URL under a trusted base URL (a connector's, from config: same origin and
 * path prefix) is sent as is, even to a private address: the operator chose it.
 * Any other URL must be http(s), name a host on the allowlist, and resolve only
 * to public addresses. The address is checked inside the socket's own `lookup`,
 * so the address checked is the address connected to (no DNS rebinding between
 * a check and the connect). Redirects are followed by hand, each hop judged
 * afresh, so a trusted host cannot bounce us to the metadata address.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { SignoffError } from '../../errors.ts';
import type { Logger } from '../../ops/log.ts';
import type { GuardedHttp, HttpRequest, HttpResponse } from './types.ts';

export interface GuardedHttpOptions {
  /** Connector base URLs from config; URLs under them skip the allowlist and address checks. */
  trustedBaseUrls: string[];
  /** `host` (default port only) or `host:port` entries that any other URL must match. */
  allowlist: string[];
  log: Logger;
  /** Time limit of a request (all its redirects included) that names none. Default 15 000 ms. */
  timeoutMs?: number;
  onRefusal?: (detail: { url: string; reason: string }) => void;
}

/**
 * A request that failed in transit. `isAmbiguous` is true when the whole
 * request was handed to the server and then the answer never came (timeout,
 * reset): the server may have acted. False when it surely never arrived
 * (connection refused, DNS failure, timeout while connecting).
 */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly host: string,
    message: string,
    readonly isAmbiguous: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A non-2xx answer. The guard itself returns every status; the ToolBox's per-call http throws this. */
export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  constructor(
    readonly host: string,
    readonly response: HttpResponse,
  ) {
    super(`${host} answered ${response.status}`);
  }
}

const MAX_REDIRECTS = 3;
/** Tool answers are small JSON documents; anything bigger is cut off rather than buffered. */
const MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers that must not follow a redirect to another origin. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'idempotency-key'];

/** ipaddr.js range names in words, where its name is not plain English. */
const RANGE_WORDS: Record<string, string> = {
  linkLocal: 'link-local (cloud metadata)',
  carrierGradeNat: 'carrier-grade NAT',
  uniqueLocal: 'private (unique local)',
  rfc6052: 'NAT64',
  rfc6145: 'IPv4-translated',
};

/**
 * Why `address` may not be reached from a tool, or null when it is public.
 * Only ipaddr.js's `unicast` (nothing special) passes: loopback, private,
 * link-local (169.254.169.254, fd00:ec2::254), CGNAT, multicast, reserved and
 * the IPv6 forms that embed an IPv4 address are all refused.
 */
export function addressRefusal(address: string): string | null {
  if (!ipaddr.isValid(address)) return `"${address}" is not an IP address`;
  // process() turns ::ffff:a.b.c.d into a.b.c.d, so mapped forms meet the IPv4 rules.
  const ip = ipaddr.process(address);
  const range = ip.range();
  return range === 'unicast' ? null : `${ip.toString()} is a ${RANGE_WORDS[range] ?? range} address`;
}

export function createGuardedHttp(opts: GuardedHttpOptions): GuardedHttp {
  return new EgressGuard(opts);
}

class EgressGuard implements GuardedHttp {
  private readonly trusted: { origin: string; path: string }[];
  private readonly allowlist: Set<string>;

  constructor(private readonly opts: GuardedHttpOptions) {
    this.trusted = opts.trustedBaseUrls.map(parseBase);
    this.allowlist = new Set(opts.allowlist.map((h) => h.toLowerCase()));
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    let url = this.parse(req.url, 'not a valid URL');
    const timeoutMs = req.timeoutMs ?? this.opts.timeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    let { method, body } = req;
    const headers = lowerKeys(req.headers ?? {});
    for (let hop = 0; ; hop += 1) {
      const isTrusted = this.isTrusted(url);
      if (!isTrusted) this.checkUntrusted(url);
      const lookup = isTrusted ? undefined : this.lookupFor(url);
      const res = await send(url, { method, headers, body, deadline, timeoutMs, signal: req.signal, lookup });
      const location = REDIRECT_STATUSES.has(res.status) ? res.headers.location : undefined;
      if (!location) return res;
      if (hop >= MAX_REDIRECTS) throw this.refuse(url, `more than ${MAX_REDIRECTS} redirects`);
      const next = this.parse(new URL(location, url).href, 'redirect to an invalid URL');
      if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
      // As browsers do: 303, and 301/302 after a POST, become a GET without a body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method !== 'GET')) {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  private parse(raw: string, reason: string): URL {
    try {
      return new URL(raw);
    } catch {
      throw this.refuse(null, reason);
    }
  }

  /** Same origin as a connector's base URL, and under its path (`/api` covers `/api/x`, not `/apiX`). */
  private isTrusted(url: URL): boolean {
    return this.trusted.some(
      (b) => url.origin === b.origin && (url.pathname === b.path || url.pathname.startsWith(`${b.path}/`)),
    );
  }

  /** The checks that need no DNS. Literal IPs are checked here: Node skips `lookup` for them. */
  private checkUntrusted(url: URL): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw this.refuse(url, `scheme ${url.protocol} is not allowed (http and https only)`);
    const isListed = this.allowlist.has(url.host) || (url.port === '' && this.allowlist.has(url.hostname));
    if (!isListed) throw this.refuse(url, `${url.host} is not on the egress allowlist (EGRESS_ALLOWLIST)`);
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    const reason = isIP(literal) ? addressRefusal(literal) : null;
    if (reason) throw this.refuse(url, reason);
  }

  /** A socket `lookup` that refuses the connection when any resolved address is not public. */
  private lookupFor(url: URL): LookupFunction {
    return (hostname, options, callback) => {
      dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, '', 0);
        const reason = addresses.map((a) => addressRefusal(a.address)).find((r) => r !== null);
        // The refusal travels as the socket's error; send() passes SignoffErrors through.
        if (reason) return callback(this.refuse(url, `${hostname} resolves to a forbidden address: ${reason}`), '', 0);
        if (options.all) return callback(null, addresses);
        callback(null, addresses[0]!.address, addresses[0]!.family);
      });
    };
  }

  /** Logs and reports a refusal; the URL is shown without its query or credentials. */
  private refuse(url: URL | null, reason: string): SignoffError {
    const shown = url ? `${url.protocol}//${url.host}${url.pathname}`.slice(0, 200) : 'an invalid URL';
    this.opts.log.warn('egress refused', { url: shown, reason });
    this.opts.onRefusal?.({ url: shown, reason });
    return new SignoffError('tool_refused', `request to ${shown} refused: ${reason}`, {
      details: { retryable: false },
    });
  }
}

interface SendOptions {
  method: HttpRequest['method'];
  headers: Record<string, string>;
  body: unknown;
  deadline: number;
  /** The request's whole time limit, for the message. */
  timeoutMs: number;
  signal: AbortSignal | undefined;
  lookup: LookupFunction | undefined;
}

/** One request, no redirects. Rejects with TransportError for anything that went wrong in transit. */
function send(url: URL, o: SendOptions): Promise<HttpResponse> {
  // Stripe's v1 API takes form bodies only: a URLSearchParams body is sent form-encoded.
  const isForm = o.body instanceof URLSearchParams;
  const payload = o.body === undefined ? undefined : isForm ? String(o.body) : JSON.stringify(o.body);
  const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
  if (payload !== undefined) {
    headers['content-type'] = isForm ? 'application/x-www-form-urlencoded' : 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  const transport = url.protocol === 'https:' ? https : http;
  if (o.signal?.aborted)
    return Promise.reject(new TransportError(url.host, `request to ${url.host} was cancelled before sending`, false));
  return new Promise((resolve, reject) => {
    let isSent = false;
    let isSettled = false;
    // agent: false: a fresh socket per request, so a pooled connection made for a
    // trusted URL is never reused for one whose address was not checked.
    const req = transport.request(url, {
      method: o.method,
      headers,
      agent: false,
      ...(o.lookup ? { lookup: o.lookup } : {}),
    });
    const settle = (err: unknown, res?: HttpResponse) => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (res) resolve(res);
      else
        reject(
          err instanceof SignoffError || err instanceof TransportError
            ? err
            : describeTransportFailure(url, err, isSent),
        );
    };
    const timer = setTimeout(
      () => req.destroy(new TransportError(url.host, `no answer from ${url.host} within ${o.timeoutMs} ms`, false)),
      Math.max(0, o.deadline - Date.now()),
    );
    const onAbort = () => req.destroy(new TransportError(url.host, `request to ${url.host} was cancelled`, false));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('finish', () => {
      isSent = true;
    });
    // Our own timeout and abort errors learn only here whether the request had gone out.
    req.on('error', (err) =>
      settle(
        err instanceof TransportError ? new TransportError(err.host, err.message, isSent || err.isAmbiguous) : err,
      ),
    );
    req.on('response', (res) => collect(url, req, res, settle));
    req.end(payload);
  });
}

/** Reads an answer, up to MAX_RESPONSE_BYTES. Once headers arrived, any failure is ambiguous. */
function collect(
  url: URL,
  req: http.ClientRequest,
  res: http.IncomingMessage,
  settle: (err: unknown, res?: HttpResponse) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES)
      req.destroy(
        new TransportError(url.host, `answer from ${url.host} is larger than ${MAX_RESPONSE_BYTES} bytes`, true),
      );
    else chunks.push(chunk);
  });
  res.on('error', (err) => settle(err instanceof TransportError ? err : describeTransportFailure(url, err, true)));
  res.on('end', () => settle(null, toResponse(res, Buffer.concat(chunks).toString('utf8'))));
}

/** A network error in words that name the host but never the URL's path, query or headers. */
function describeTransportFailure(url: URL, err: unknown, isSent: boolean): TransportError {
  const code = (err as NodeJS.ErrnoException | null)?.code ?? 'network error';
  const when = isSent ? 'after the request was sent' : 'before the request was sent';
  return new TransportError(url.host, `connection to ${url.host} failed ${when} (${code})`, isSent, { cause: err });
}

function toResponse(res: http.IncomingMessage, text: string): HttpResponse {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  let body: unknown = text;
  if (/\bjson\b/i.test(headers['content-type'] ?? '') && text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      // A provider that labels HTML as JSON (a proxy error page): keep the text.
    }
  }
  return { status: res.statusCode ?? 0, headers, body, text };
}

function parseBase(raw: string): { origin: string; path: string } {
  const url = new URL(raw);
  return { origin: url.origin, path: url.pathname.replace(/\/+$/, '') };
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
