/**
 * `npm run web:invite -- alice [--name "Alice Adams"] [--groups support-leads,release-managers]`:
 * prints a one-time sign-in link for one person of the web chat (WEB_CHAT_AUTH=invite,
 * docs/security.md). With --name the person is added or renamed first (a name that reads
 * like someone else's is refused). Only the SHA-256 of the link's token is stored; the link
 * works once, within INVITE_TTL_MS, and its session cookie then says who acts.
 *
 * It uses the bot's database: DATABASE_URL, or the embedded server in SIGNOFF_DATA_DIR
 * (the running bot's, when one is up; else it starts it for the moment).
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { impersonationRefusal } from '../chat/text.ts';
import { readConfig, type Config } from '../config.ts';
import { openDatabase } from './database.ts';
import { describeError, SignoffError } from '../errors.ts';
import { connect, type Sql } from '../store/client.ts';
import { createConsoleInvite, listConsolePeople, upsertConsolePerson } from '../store/console.ts';
import { migrate } from '../store/migrate.ts';

/** How long a link may wait to be opened. */
const INVITE_TTL_MS = 24 * 60 * 60 * 1000;
/** The web chat's one workspace (adapters/console's default tenant). */
const TENANT = 'local';
const PERSON_ID = /^[a-z0-9][a-z0-9._-]{0,31}$/;

async function invite(sql: Sql, config: Config, argv: string[]): Promise<string> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, groups: { type: 'string' } },
  });
  const id = positionals[0] ?? '';
  if (!PERSON_ID.test(id))
    throw new SignoffError(
      'input_invalid',
      'usage: npm run web:invite -- <person id> [--name "Display Name"] [--groups a,b]',
    );
  if (values.name !== undefined) {
    const groups = (values.groups ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    const refusal = impersonationRefusal({ id, displayName: values.name }, await listConsolePeople(sql, TENANT));
    if (refusal) throw new SignoffError('input_invalid', refusal);
    await upsertConsolePerson(sql, TENANT, { id, displayName: values.name, groups });
  }
  const token = randomBytes(32).toString('base64url');
  const hash = createHash('sha256').update(token, 'utf8').digest('hex');
  if (!(await createConsoleInvite(sql, TENANT, id, hash, INVITE_TTL_MS))) {
    throw new SignoffError(
      'input_invalid',
      `there is no person "${id}" in the web chat yet; add them with --name "Their Name"`,
    );
  }
  const base = config.webChat.publicUrl ?? `http://localhost:${config.port}`;
  return `${base}/signin?token=${token}`;
}

async function main(): Promise<void> {
  const config = readConfig();
  if (config.webChat.auth !== 'invite') {
    process.stderr.write(
      'note: WEB_CHAT_AUTH is not "invite", so the web chat does not ask for sign-in and this link does nothing yet\n',
    );
  }
  const db = await openDatabase(config);
  const sql = connect({ url: db.url, schema: config.schema, max: 1 });
  try {
    await migrate(sql, config.schema);
    const link = await invite(sql, config, process.argv.slice(2));
    process.stdout.write(`${link}\n`);
    process.stderr.write('Send this link to that person only; it signs them in once, within 24 hours.\n');
  } finally {
    await sql.end({ timeout: 5 });
    await db.embedded?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`web:invite failed: ${describeError(err).message}\n`);
  process.exit(1);
});
