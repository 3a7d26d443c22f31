/**
 * A TCP proxy between the bot and Postgres (RELIABILITY harness), so a test can
 * take the database away from the bot and give it back, or make it slow, while
 * the bot's real postgres.js client sees exactly what it would in production:
 * refused and cut connections, or answers that take seconds, or a COMMIT that
 * Postgres carried out whose answer never arrived (an ambiguous commit).
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
  /**
   * The next COMMIT that Postgres completes has its answer dropped and its
   * connection cut (RELIABILITY 36): the transaction is committed, the bot
   * sees only a broken connection.
   */
  cutNextCommit(): void;
  /** How many commits `cutNextCommit` cut so far. */
  readonly commitsCut: number;
  close(): Promise<void>;
}

/**
 * Postgres's CommandComplete for a COMMIT: 'C', an int32 length (4 + 7), "COMMIT\0"
 * (https://www.postgresql.org/docs/15/protocol-message-formats.html). It names the
 * command whether or not the statement was prepared, so it is what we look for.
 */
const COMMIT_COMPLETE = Buffer.concat([Buffer.from([0x43, 0, 0, 0, 11]), Buffer.from('COMMIT\0', 'latin1')]);

export async function startPgProxy(databaseUrl: string): Promise<PgProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  let isDown = false;
  let latencyMs = 0;
  let isStalled = false;
  const held: (() => void)[] = [];
  let isCommitCutArmed = false;
  let commitsCut = 0;
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
      if (isCommitCutArmed && chunk.includes(COMMIT_COMPLETE)) {
        isCommitCutArmed = false;
        commitsCut++;
        client.destroy();
        return void upstream.destroy();
      }
      if (isStalled) return void held.push(() => client.write(chunk));
      if (latencyMs === 0) return void client.write(chunk);
      upstream.pause();
      setTimeout(() => {
        client.write(chunk);
        upstream.resume();
      }, latencyMs);
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
    cutNextCommit() {
      isCommitCutArmed = true;
    },
    get commitsCut() {
      return commitsCut;
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
