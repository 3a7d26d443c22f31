/**
 * Who may reach the web chat, and as whom (issue 16, docs/security.md), on the real
 * server: a request naming another Host (DNS rebinding) or sent from another Origin
 * gets 403 before anything is read, the live stream included; beyond loopback
 * (WEB_CHAT_AUTH=invite) there is no person switcher, every /api call needs the
 * session a one-time link from `npm run web:invite` gives, and the body cannot
 * name someone else. Assertions read HTTP answers, what the handler received, and rows.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleAdapter, type ConsoleAdapter } from '../../../adapters/console/console-adapter.ts';
import type { InboundCommand } from '../../../src/chat/messages.ts';
import type { ChatHandlers } from '../../../src/chat/port.ts';
import { startHttpServer, type HttpServer } from '../../../src/ops/http.ts';
import { consoleStore, upsertConsolePerson } from '../../../src/store/console.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();
const ROOT = join(import.meta.dirname, '..', '..', '..');
const PUBLIC_HOST = 'chat.example.test';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request: fetch may not set Host, and a browser under attack would send exactly these headers. */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        timeout: 5_000,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        const isStream = String(res.headers['content-type']).startsWith('text/event-stream');
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (isStream) res.destroy(); // the first frame is enough
        });
        const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
        res.on('end', done);
        res.on('close', done);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Replies with who the handler was told acted, so a test sees exactly what reached it. */
function echoDesk(seen: InboundCommand[]): ChatHandlers {
  return {
    command: async (c) => (seen.push(c), { visibility: 'ephemeral', notice: { text: `you are ${c.user}` } }),
    action: async () => ({ kind: 'ok' }),
    submission: async () => ({ kind: 'ok' }),
  };
}

async function serve(access: Parameters<typeof createConsoleAdapter>[0]['access'], seen: InboundCommand[]) {
  const adapter = createConsoleAdapter({ store: consoleStore(db.sql), access, tenant: 'local' });
  const http = await startHttpServer({ port: 0, host: '127.0.0.1', sql: db.sql, routes: adapter.routes });
  await adapter.port.start(echoDesk(seen));
  return { adapter, http, port: http.port };
}

let deliveries = 0;
const cmd = (extra: Record<string, unknown> = {}) => ({
  channel: 'general',
  text: 'help',
  deliveryId: `a${++deliveries}`,
  ...extra,
});

describe('local demo mode (loopback)', () => {
  let app: { adapter: ConsoleAdapter; http: HttpServer; port: number };
  const seen: InboundCommand[] = [];
  beforeAll(async () => {
    app = await serve({ mode: 'local' }, seen);
  });
  afterAll(async () => {
    await app?.adapter.port.stop();
    await app?.http.close();
  });
  const own = () => ({ host: `127.0.0.1:${app.port}` });

  it('refuses a Host that is not a loopback name on this port with 403 and a reason, the live stream too', async () => {
    for (const [method, path, body] of [
      ['GET', '/api/state'],
      ['GET', '/api/events'],
      ['POST', '/api/command', cmd({ user: 'alice' })],
    ] as const) {
      const answer = await send(app.port, method, path, { host: 'evil.example' }, body);
      expect([path, answer.status]).toEqual([path, 403]);
      expect(JSON.parse(answer.body).error).toMatch(
        /answers only at http:\/\/localhost; Host "evil.example" is not it/,
      );
    }
    // A loopback name on another port is a different site to a browser.
    expect((await send(app.port, 'GET', '/api/state', { host: `localhost:${app.port + 1}` })).status).toBe(403);
    expect(seen).toHaveLength(0);
    for (const host of [`127.0.0.1:${app.port}`, `localhost:${app.port}`, `[::1]:${app.port}`]) {
      expect((await send(app.port, 'GET', '/api/state', { host })).status).toBe(200);
    }
    expect((await send(app.port, 'GET', '/api/events', own())).status).toBe(200);
  });

  it("refuses a request whose Origin is another site, and serves the page's own", async () => {
    const foreign = await send(
      app.port,
      'POST',
      '/api/command',
      { ...own(), origin: 'http://evil.example' },
      cmd({ user: 'alice' }),
    );
    expect([foreign.status, JSON.parse(foreign.body)]).toEqual([
      403,
      { error: 'requests from http://evil.example are not accepted here' },
    ]);
    const nullOrigin = await send(app.port, 'GET', '/api/events', { ...own(), origin: 'null' });
    expect(nullOrigin.status).toBe(403);
    expect(seen).toHaveLength(0);
    const same = await send(
      app.port,
      'POST',
      '/api/command',
      { ...own(), origin: `http://127.0.0.1:${app.port}` },
      cmd({ user: 'alice' }),
    );
    expect(same.status).toBe(200);
    expect(seen.map((c) => c.user)).toEqual(['alice']);
  });

  it("refuses a display name that reads like another person's name or id", async () => {
    for (const displayName of ['Bob Brown', 'bob brown ', '@bob', 'ＢＯＢ', 'Signoff']) {
      const answer = await send(app.port, 'POST', '/api/people', own(), {
        id: 'mallory',
        displayName,
        groups: ['support-leads'],
      });
      expect([displayName, answer.status]).toEqual([displayName, 400]);
    }
    const rows = await db.sql`SELECT id FROM console_people WHERE id = 'mallory'`;
    expect(rows).toHaveLength(0);
    expect(
      (await send(app.port, 'POST', '/api/people', own(), { id: 'mallory', displayName: 'Mallory M', groups: [] }))
        .status,
    ).toBe(200);
  });
});

describe('signed-in mode (WEB_CHAT_AUTH=invite)', () => {
  let app: { adapter: ConsoleAdapter; http: HttpServer; port: number };
  const seen: InboundCommand[] = [];
  let publicUrl: string;
  beforeAll(async () => {
    // The port is known only once listening; the access object is read per request.
    const access = { mode: 'invite' as const, publicUrl: '' };
    app = await serve(access, seen);
    publicUrl = access.publicUrl = `http://${PUBLIC_HOST}:${app.port}`;
    await upsertConsolePerson(db.sql, 'local', { id: 'bob', displayName: 'Bob Brown', groups: ['support-leads'] });
  });
  afterAll(async () => {
    await app?.adapter.port.stop();
    await app?.http.close();
  });
  const pub = (extra: Record<string, string> = {}) => ({ host: `${PUBLIC_HOST}:${app.port}`, ...extra });

  /** `npm run web:invite -- <args>` as an operator runs it; resolves with its printed link. */
  function webInvite(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const { DATABASE_URL: _url, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/web-invite.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        DATABASE_URL: db.url,
        SIGNOFF_SCHEMA: db.schema,
        WEB_CHAT_AUTH: 'invite',
        WEB_CHAT_URL: publicUrl,
        HOST: '0.0.0.0',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  }

  async function signIn(args: string[]): Promise<string> {
    const out = await webInvite(args);
    expect(out.code, out.stderr).toBe(0);
    const link = new URL(out.stdout.trim());
    expect(link.origin).toBe(publicUrl);
    const answer = await send(app.port, 'GET', link.pathname + link.search, pub());
    expect([answer.status, answer.headers.location]).toEqual([303, '/']);
    const cookie = String(answer.headers['set-cookie']);
    expect(cookie).toMatch(/^signoff_session=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\//);
    // The link works once.
    expect((await send(app.port, 'GET', link.pathname + link.search, pub())).status).toBe(403);
    return cookie.split(';')[0]!;
  }

  it('has no person switcher door, and every /api call needs a session', async () => {
    expect(
      (await send(app.port, 'POST', '/api/people', pub(), { id: 'eve', displayName: 'Eve', groups: ['support-leads'] }))
        .status,
    ).toBe(404);
    expect((await send(app.port, 'GET', '/api/state', pub())).status).toBe(401);
    expect((await send(app.port, 'GET', '/api/events', pub())).status).toBe(401);
    expect((await send(app.port, 'POST', '/api/command', pub(), cmd({ user: 'bob' }))).status).toBe(401);
    expect(
      (await send(app.port, 'GET', '/api/state', { host: 'evil.example', cookie: 'signoff_session=x' })).status,
    ).toBe(403);
    expect((await send(app.port, 'GET', '/', pub())).status).toBe(200);
    expect(seen).toHaveLength(0);
  });

  it('a signed-in person acts as themselves and cannot act as another', async () => {
    const cookie = await signIn(['alice', '--name', 'Alice Adams']);
    const [stored] = await db.sql`SELECT count(*)::int AS n FROM console_sessions WHERE person = 'alice'`;
    expect(stored!.n).toBe(1);
    const asBob = await send(app.port, 'POST', '/api/command', pub({ cookie }), cmd({ user: 'bob' }));
    expect([asBob.status, JSON.parse(asBob.body)]).toEqual([
      403,
      { error: 'you are signed in as alice and cannot act as bob' },
    ]);
    expect(seen).toHaveLength(0);
    expect((await send(app.port, 'POST', '/api/command', pub({ cookie }), cmd())).status).toBe(200);
    expect(
      (await send(app.port, 'POST', '/api/command', pub({ cookie, origin: publicUrl }), cmd({ user: 'alice' }))).status,
    ).toBe(200);
    expect(seen.map((c) => c.user)).toEqual(['alice', 'alice']);
    const state = JSON.parse((await send(app.port, 'GET', '/api/state', pub({ cookie }))).body);
    expect([state.mode, state.me]).toEqual(['invite', 'alice']);
    expect(state.channels.map((c: { id: string }) => c.id)).not.toContain('@bob');
    // Only hashes are stored: the cookie's token is in no row.
    const rows = await db.sql`SELECT token_hash FROM console_sessions UNION ALL SELECT token_hash FROM console_invites`;
    expect(JSON.stringify(rows)).not.toContain(cookie.split('=')[1]);
  });

  it("a message's picture is served to who may see the message: another person's DM reads as missing", async () => {
    const cookie = await signIn(['carol', '--name', 'Carol Chen']);
    // The smallest PNG: signature and IHDR are what a browser checks first.
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex').toString('base64');
    const image = { pngBase64: png, alt: 'a chart', fallbackText: '█' };
    await app.adapter.port.notifyUser('local', 'bob', { text: 'chart for bob', image }, { idempotencyKey: 'img-bob' });
    await app.adapter.port.notifyUser(
      'local',
      'carol',
      { text: 'chart for carol', image },
      { idempotencyKey: 'img-carol' },
    );
    const ids = await db.sql<
      { channel: string; id: string }[]
    >`SELECT channel, id::text FROM console_messages WHERE idempotency_key IN ('img-bob', 'img-carol')`;
    const idOf = (channel: string) => ids.find((m) => m.channel === channel)!.id;
    const own = await send(app.port, 'GET', `/api/image?id=${idOf('@carol')}`, pub({ cookie }));
    expect([own.status, own.headers['content-type']]).toEqual([200, 'image/png']);
    expect((await send(app.port, 'GET', `/api/image?id=${idOf('@bob')}`, pub({ cookie }))).status).toBe(404);
    expect((await send(app.port, 'GET', `/api/image?id=${idOf('@carol')}`, pub())).status).toBe(401);
  });

  it("the live stream carries the shared channels and the person's own DMs, never another person's", async () => {
    const cookie = await signIn(['carol', '--name', 'Carol Chen']);
    const frames: string[] = [];
    const stream = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      request({ host: '127.0.0.1', port: app.port, path: '/api/events', headers: pub({ cookie }) }, resolve)
        .on('error', reject)
        .end();
    });
    try {
      expect(stream.statusCode).toBe(200);
      const marker = new Promise<void>((resolve) =>
        stream.on('data', (chunk: Buffer) => {
          frames.push(chunk.toString());
          if (frames.join('').includes('marker for carol')) resolve();
        }),
      );
      const port = app.adapter.port;
      await port.notifyUser('local', 'bob', { text: 'secret for bob' }, { idempotencyKey: 'dm-bob' });
      await port.notifyUser('local', 'carol', { text: 'note for carol' }, { idempotencyKey: 'dm-carol' });
      await port.postMessage('general', { text: 'marker for carol' }, { idempotencyKey: 'marker' });
      await marker;
      expect(frames.join('')).toContain('note for carol');
      expect(frames.join('')).not.toContain('secret for bob');
    } finally {
      stream.destroy();
    }
  });

  it("web:invite refuses a name that reads like someone else's, and a person who does not exist", async () => {
    const copycat = await webInvite(['mallory', '--name', 'Bob Brown']);
    expect([copycat.code, copycat.stderr]).toEqual([
      1,
      'web:invite failed: display name "Bob Brown" reads like @bob\'s; pick a name of your own\n',
    ]);
    const nobody = await webInvite(['zed']);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/there is no person "zed"/);
  });
});
