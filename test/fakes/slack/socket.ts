/**
 * The Socket Mode side of the fake Slack: `apps.connections.open` hands out
 * `ws://127.0.0.1:<port>/socket`; on connect the server sends `hello`, then the
 * envelopes a test pushes, and records each ack (`{ envelope_id, payload }`).
 * An envelope left unacknowledged is what Slack would redeliver.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

export type EnvelopeType = 'events_api' | 'slash_commands' | 'interactive';

export interface FakeSocketMode {
  url(): string;
  /** Open connections, in connect order. */
  connections(): WebSocket[];
  /** Sends an envelope to one connection (default: the first) or to all; returns its id. */
  send(
    type: EnvelopeType,
    payload: unknown,
    opts?: { to?: number | 'all'; retryAttempt?: number; retryReason?: string; envelopeId?: string },
  ): string;
  /** The ack payload of an envelope, once it arrives; null at the deadline. */
  ack(envelopeId: string, timeoutMs?: number): Promise<Record<string, unknown> | null>;
  /** Acks received per envelope id (one per connection that acked). */
  acks: Map<string, Record<string, unknown>[]>;
  waitForConnections(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function attachSocketMode(server: Server): FakeSocketMode {
  const wss = new WebSocketServer({ noServer: true });
  const sockets: WebSocket[] = [];
  const acks = new Map<string, Record<string, unknown>[]>();
  server.on('upgrade', (req, socket, head) => {
    if (!req.url?.startsWith('/socket')) return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws));
  });
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('close', () => sockets.splice(sockets.indexOf(ws), 1));
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { envelope_id?: string; payload?: Record<string, unknown> };
      if (message.envelope_id)
        acks.set(message.envelope_id, [...(acks.get(message.envelope_id) ?? []), message.payload ?? {}]);
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: sockets.length, connection_info: { app_id: 'A0FAKE' } }));
  });
  const address = () => server.address() as { port: number };
  const until = async (probe: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!probe() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return probe();
  };
  return {
    url: () => `ws://127.0.0.1:${address().port}/socket?ticket=${randomUUID()}`,
    connections: () => [...sockets],
    acks,
    send(type, payload, opts = {}) {
      const envelopeId = opts.envelopeId ?? randomUUID();
      const envelope = JSON.stringify({
        envelope_id: envelopeId,
        type,
        payload,
        accepts_response_payload: type !== 'events_api',
        ...(opts.retryAttempt !== undefined
          ? { retry_attempt: opts.retryAttempt, retry_reason: opts.retryReason ?? 'timeout' }
          : { retry_attempt: 0 }),
      });
      const targets = opts.to === 'all' ? sockets : [sockets[opts.to ?? 0]];
      for (const ws of targets) ws?.send(envelope);
      return envelopeId;
    },
    async ack(envelopeId, timeoutMs = 5_000) {
      await until(() => acks.has(envelopeId), timeoutMs);
      return acks.get(envelopeId)?.[0] ?? null;
    },
    async waitForConnections(count, timeoutMs = 10_000) {
      if (!(await until(() => sockets.length >= count, timeoutMs)))
        throw new Error(`only ${sockets.length} of ${count} socket connections`);
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
