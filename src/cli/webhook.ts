/**
 * `npm run webhook -- <source> <payload.json>`: signs a payload the way its
 * provider does, with the secret configured for that source, and posts it to
 * the running bot (src/triggers/webhooks/send-cli.ts does the work).
 */
import { readConfig } from '../config.ts';
import { describeError } from '../errors.ts';
import { sendWebhookCli } from '../triggers/webhooks/send-cli.ts';

async function main(): Promise<void> {
  const config = readConfig();
  process.exitCode = await sendWebhookCli(process.argv.slice(2), {
    webhooks: config.webhooks,
    port: config.port,
    write: (line) => process.stdout.write(`${line}\n`),
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`npm run webhook: ${describeError(err).message}\n`);
  process.exit(1);
});
