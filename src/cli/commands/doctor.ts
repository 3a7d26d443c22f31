/**
 * `signoff doctor`: is this deployment able to work? One line per check (the
 * database, the configured chat platform, the model server, each tool host),
 * each `ok` or what is wrong and how to fix it; exit 1 when any check failed.
 * Every configured secret is scrubbed from what is printed, whatever a provider
 * put in its answer.
 */
import type { Command } from 'commander';
import type { Config } from '../../config.ts';
import { action } from '../action.ts';
import { EXIT, type CliContext } from '../context.ts';
import type { CheckResult } from '../doctor-probes.ts';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check the database, the chat platform, the model server and the tool hosts')
    .action(action(runDoctor, { allowPending: true }));
}

async function runDoctor(ctx: CliContext): Promise<number> {
  const { config } = ctx;
  // Loaded here, not at start: the SDKs behind the probes take seconds to load, and only doctor needs them.
  const { checkDatabase, checkModel, checkTools } = await import('../doctor-probes.ts');
  const [database, platform, model, tools] = await Promise.all([
    checkDatabase(ctx),
    checkPlatform(config),
    checkModel(config),
    checkTools(config),
  ]);
  const secrets = secretsOf(config);
  const checks = [database, platform, model, ...tools].map((c) => ({ ...c, detail: scrub(c.detail, secrets) }));
  const ok = checks.every((c) => c.ok);
  ctx.print({ ok, checks }, () => [
    ...checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`),
    ok ? 'all checks passed' : `${checks.filter((c) => !c.ok).length} check(s) failed`,
  ]);
  return ok ? EXIT.ok : EXIT.failed;
}

async function checkPlatform(config: Readonly<Config>): Promise<CheckResult> {
  if (config.slack) {
    const { probeSlack } = await import('../../../adapters/slack/slack-probe.ts');
    return { name: 'slack', ...(await probeSlack(config.slack)) };
  }
  if (config.discord) {
    const { probeDiscord } = await import('../../../adapters/discord/discord-probe.ts');
    return { name: 'discord', ...(await probeDiscord(config.discord)) };
  }
  return { name: 'chat', ok: true, detail: 'no Slack or Discord configured: the bot serves the local web chat' };
}

/** Every credential the config holds, longest first (so a token containing another is replaced whole). */
function secretsOf(config: Readonly<Config>): string[] {
  const dbPassword = config.databaseUrl ? /\/\/[^:/@]+:([^@]*)@/.exec(config.databaseUrl)?.[1] : undefined;
  const found = [
    config.slack?.botToken,
    config.slack?.appToken,
    config.slack?.signingSecret,
    config.discord?.token,
    config.model.apiKey,
    dbPassword,
    ...Object.values(config.tools.connectors).map((c) => c.token),
  ];
  return found.filter((s): s is string => typeof s === 'string' && s.length >= 4).sort((a, b) => b.length - a.length);
}

function scrub(text: string, secrets: string[]): string {
  return secrets.reduce((out, secret) => out.split(secret).join('***'), text);
}
