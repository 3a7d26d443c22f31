/**
 * The fake Discord gateway (events/gateway.mdx, topics/opcodes-and-status-codes.mdx),
 * a `ws` server on the fake's port: HELLO, heartbeat ACK, IDENTIFY → READY (with
 * `session_id` and `resume_gateway_url`) + GUILD_CREATE, dispatches with sequence
 * numbers, RESUME (replaying what a session missed), and, on demand, RECONNECT
 * (op 7) and INVALID_SESSION (op 9). IDENTIFYs are counted: Discord allows 1000
 * a day and resets the token past that (events/gateway.mdx "Session Start Limit").
 */
import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { GatewayDispatchEvents, GatewayOpcodes, type GatewayDispatchPayload } from 'discord-api-types/v10';
import type { FakeDiscord } from './rest.ts';

interface Session {
  id: string;
  seq: number;
  sent: { s: number; t: string; d: unknown }[];
  socket: WebSocket | null;
}

/** events/gateway.mdx: HELLO carries the heartbeat interval. Short, so tests see heartbeats. */
const HEARTBEAT_MS = 5_000;

export class FakeGateway {
  private wss: WebSocketServer | null = null;
  private readonly sessions = new Map<string, Session>();
  /** IDENTIFYs received (logins), RESUMEs received. */
  identifies = 0;
  resumes = 0;
  /** Extra already-delivered events a RESUME replays (Discord delivers at least once). */
  replayOnResume = 0;

  constructor(private readonly fake: FakeDiscord) {}

  get url(): string {
    return `ws://127.0.0.1:${this.fake.port}/gateway`;
  }

  attach(server: Server): void {
    this.wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/gateway')) return socket.destroy();
      this.wss!.handleUpgrade(req, socket, head, (ws) => this.connected(ws));
    });
  }

  async close(): Promise<void> {
    for (const ws of this.wss?.clients ?? []) ws.terminate();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
  }

  /** Live sessions (a READY or RESUMED socket open). */
  get live(): number {
    return [...this.sessions.values()].filter((s) => s.socket).length;
  }

  /** Sends a dispatch to every live session (an event missed by a closed one is kept for its RESUME). */
  dispatch(t: GatewayDispatchEvents, d: unknown): void {
    for (const session of this.sessions.values()) this.sendDispatch(session, t, d);
  }

  /** op 7: the client should reconnect and resume. */
  reconnect(): void {
    for (const s of this.sessions.values()) s.socket?.send(JSON.stringify({ op: GatewayOpcodes.Reconnect, d: null }));
  }

  /** op 9: `resumable` false means the client must IDENTIFY anew. */
  invalidateSession(resumable: boolean): void {
    for (const s of this.sessions.values()) {
      s.socket?.send(JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: resumable }));
      if (!resumable) this.sessions.delete(s.id);
    }
  }

  /** Drops every connection uncleanly (close 4000, resumable: topics/opcodes-and-status-codes.mdx). */
  drop(): void {
    for (const s of this.sessions.values()) {
      s.socket?.close(4000, 'Unknown error');
      s.socket = null;
    }
  }

  private sendDispatch(session: Session, t: string, d: unknown): void {
    const s = ++session.seq;
    session.sent.push({ s, t, d });
    session.socket?.send(JSON.stringify({ op: GatewayOpcodes.Dispatch, t, s, d }));
  }

  private connected(ws: WebSocket): void {
    let session: Session | null = null;
    ws.send(JSON.stringify({ op: GatewayOpcodes.Hello, d: { heartbeat_interval: HEARTBEAT_MS } }));
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { op: number; d: any };
      if (msg.op === GatewayOpcodes.Heartbeat) return ws.send(JSON.stringify({ op: GatewayOpcodes.HeartbeatAck }));
      if (msg.op === GatewayOpcodes.Identify) session = this.identify(ws, msg.d);
      if (msg.op === GatewayOpcodes.Resume) session = this.resume(ws, msg.d);
    });
    ws.on('close', () => {
      if (session?.socket === ws) session.socket = null;
    });
  }

  private identify(ws: WebSocket, d: { token: string; intents: number }): Session | null {
    this.identifies += 1;
    // topics/opcodes-and-status-codes.mdx: 4004 Authentication failed.
    if (d.token !== this.fake.botToken) return (ws.close(4004, 'Authentication failed.'), null);
    const session: Session = {
      id: `sess-${this.identifies}-${Math.random().toString(36).slice(2, 8)}`,
      seq: 0,
      sent: [],
      socket: ws,
    };
    this.sessions.set(session.id, session);
    const f = this.fake;
    const ready = {
      v: 10,
      session_id: session.id,
      resume_gateway_url: this.url,
      guilds: [{ id: f.guildId, unavailable: true }],
      user: { id: f.botUserId, username: 'signoff', discriminator: '0', global_name: null, avatar: null, bot: true },
      application: { id: f.applicationId, flags: 0 },
      shard: [0, 1],
    };
    this.sendDispatch(session, GatewayDispatchEvents.Ready, ready);
    this.sendDispatch(session, GatewayDispatchEvents.GuildCreate, {
      id: f.guildId,
      name: 'Support',
      icon: null,
      owner_id: '1',
      roles: f.roles,
      emojis: [],
      features: [],
      channels: [],
      threads: [],
      members: [],
      voice_states: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      member_count: 1,
      large: false,
      unavailable: false,
      joined_at: new Date().toISOString(),
    });
    return session;
  }

  private resume(ws: WebSocket, d: { token: string; session_id: string; seq: number }): Session | null {
    this.resumes += 1;
    const session = this.sessions.get(d.session_id);
    if (!session || d.token !== this.fake.botToken) {
      // events/gateway.mdx "Resuming": an unknown session gets op 9 with d false.
      ws.send(JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: false }));
      return null;
    }
    session.socket = ws;
    const from = Math.max(0, d.seq - this.replayOnResume);
    for (const e of session.sent.filter((x) => x.s > from))
      ws.send(JSON.stringify({ op: GatewayOpcodes.Dispatch, ...e } as GatewayDispatchPayload));
    ws.send(JSON.stringify({ op: GatewayOpcodes.Dispatch, t: GatewayDispatchEvents.Resumed, s: ++session.seq, d: {} }));
    return session;
  }
}
