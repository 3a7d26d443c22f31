/**
 * A TCP proxy between the bot and Postgres (RELIABILITY harness), so a test can
 * take the database away from the bot and give it back, or make it slow, while
 * the bot's real postgres.js client sees exactly what it would in production:
 * refused and cut connections, or answers that take seconds.
 */
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface PgProxy {
  /** DATABASE_URL for the bot: the real one with host and port pointing at the proxy. */
  url: string;
  /** Down: every open connection is cut and new ones are closed at once. */
  setDown(isDown: boolean): void;
  /** Every answer from Postgres is held this long before it reaches the bot. */
  setLatency(ms: number): void;
  /** Stalled: connections stay open but no answer reaches the bot until unstalled (a hung server or network). */
  setStalled(isStalled: boolean): void;
  close(): Promise<void>;
}

export async function startPgProxy(databaseUrl: string): Promise<PgProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  let isDown = false;
  let latencyMs = 0;
  let isStalled = false;
  const held: (() => void)[] = [];
  const server = createServer((client) => {
    if (isDown) return void client.destroy();
    const upstream = tcpConnect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (isStalled) return void held.push(() => client.write(chunk));
      if (latencyMs === 0) return void client.write(chunk);
      upstream.pause();
      setTimeout(() => { client.write(chunk); upstream.resume(); }, latencyMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(databaseUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as AddressInfo).port);
  return {
    url: proxied.toString(),
    setDown(next) {
      isDown = next;
      if (next) for (const s of sockets) s.destroy();
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    setStalled(next) {
      isStalled = next;
      if (!next) for (const release of held.splice(0)) release();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
