/**
 * Server-Sent Events for the web chat: every open page holds one stream and
 * re-renders when a message is posted, updated or replied to. Events carry
 * render-ready views; a page that reconnects reloads /api/state, so an event
 * missed while disconnected is never lost. In-process only: the console is one
 * process on one machine.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Comment lines keep idle proxies and browsers from dropping a quiet stream. */
export const KEEP_ALIVE_MS = 15_000;

// How long a browser waits before reconnecting a dropped stream (the SSE `retry:` field).
const RECONNECT_MS = 2_000;

export interface LiveHub {
  /**
   * Takes over the response as an event stream until the client goes or `closeAll`.
   * `viewer`: the signed-in person (their DMs only), or null in local demo mode (every DM).
   */
  attach(req: IncomingMessage, res: ServerResponse, viewer?: string | null): void;
  /** Sends one event to every open stream that may see `channel` (a DM channel `@bob` only to bob). */
  publish(event: 'message' | 'world', data: unknown, channel?: string): void;
  /** Ends every stream (on stop: an open stream would keep the HTTP server from closing). */
  closeAll(): void;
  /** Open streams, for tests and logs. */
  readonly openStreams: number;
}

export function createLiveHub(opts: { keepAliveMs?: number } = {}): LiveHub {
  const streams = new Map<ServerResponse, NodeJS.Timeout>();
  const viewers = new Map<ServerResponse, string | null>();
  const drop = (res: ServerResponse) => {
    clearInterval(streams.get(res));
    streams.delete(res);
    viewers.delete(res);
  };
  return {
    attach(req, res, viewer = null) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-content-type-options': 'nosniff',
      });
      res.write(`retry: ${RECONNECT_MS}\n: connected\n\n`);
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), opts.keepAliveMs ?? KEEP_ALIVE_MS);
      keepAlive.unref();
      streams.set(res, keepAlive);
      viewers.set(res, viewer);
      // The response closes when the client goes (tab closed, network gone) or after closeAll.
      res.once('close', () => drop(res));
    },
    publish(event, data, channel) {
      // JSON.stringify escapes CR and LF, so the payload is one `data:` line.
      const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      const dmOf = channel?.startsWith('@') ? channel.slice(1) : null;
      for (const res of streams.keys()) {
        const viewer = viewers.get(res) ?? null;
        if (dmOf === null || viewer === null || viewer === dmOf) res.write(frame);
      }
    },
    closeAll() {
      for (const res of [...streams.keys()]) {
        drop(res);
        res.end();
      }
    },
    get openStreams() {
      return streams.size;
    },
  };
}
