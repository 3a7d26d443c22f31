/**
 * The bot as `npm start` runs it, for the bench's phases that measure what a
 * person or a platform waits for (like test/helpers/browser.ts startBot, which
 * imports vitest and playwright): `node --import tsx src/main.ts` on a given
 * database, default settings plus `env`, stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const READY_MS = 30_000;

export interface Bot {
  child: ChildProcess;
  url: string;
  poolSize: number;
  log: () => string;
}

export async function startBot(dbUrl: string, schema: string, env: Record<string, string> = {}): Promise<Bot> {
  const port = await freePort();
  const inherited = Object.entries(process.env).filter(
    ([k]) => !/^(SIGNOFF_|SLACK_|DISCORD_|OPENAI_)|^DATABASE_URL$/.test(k),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...Object.fromEntries(inherited),
      DATABASE_URL: dbUrl,
      SIGNOFF_SCHEMA: schema,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const bot = {
    child,
    url: `http://127.0.0.1:${port}`,
    poolSize: Number(process.env.DB_POOL_SIZE || 10),
    log: () => stderr,
  };
  const deadline = Date.now() + READY_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`bot exited with ${child.exitCode}:\n${stderr}`);
    if ((await fetch(`${bot.url}/readyz`, { signal: AbortSignal.timeout(1_000) }).catch(() => null))?.ok) return bot;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`bot was not ready (/readyz) in ${READY_MS / 1000} s:\n${stderr}`);
}

export async function stopBot(bot: Bot | null): Promise<void> {
  if (!bot || bot.child.exitCode !== null || bot.child.signalCode !== null) return;
  const exited = new Promise((r) => bot.child.once('exit', r));
  bot.child.kill('SIGTERM');
  const timer = setTimeout(() => bot.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
  });
}
