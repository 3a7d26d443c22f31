/**
 * `npx signoff <command>` (or `npm run signoff -- <command>`): the operator's
 * command line. Each command group lives in ./commands/<group>.ts and works on
 * the bot's own database (./database.ts says which). Exit codes: 0 ok, 1 a
 * check or verify failed or something asked for was not found, 2 a usage error
 * (unknown command, missing argument, bad option), with a usage line on stderr.
 */
import { Command, CommanderError } from 'commander';
import { registerAuditCommands } from './commands/audit.ts';
import { registerDeadLetterCommands } from './commands/deadletters.ts';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerFlowCommands } from './commands/flows.ts';
import { registerMigrateCommand } from './commands/migrate.ts';
import { registerRunCommands } from './commands/runs.ts';
import { commandPath } from './action.ts';
import { EXIT } from './context.ts';

export function buildProgram(): Command {
  const program = new Command('signoff')
    .description('Operate signoff: runs, reviews and their audit, flows, dead letters, the database, the platforms.')
    .option('--json', 'print machine-readable JSON instead of text')
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  registerRunCommands(program);
  registerDeadLetterCommands(program);
  registerFlowCommands(program);
  registerAuditCommands(program);
  registerMigrateCommand(program);
  registerDoctorCommand(program);
  // Every level throws instead of exiting (so usage errors exit 2) and follows the error with its usage line.
  for (const command of [program, ...allCommands(program)]) {
    command.exitOverride().showHelpAfterError(`usage: ${commandPath(command)} ${command.usage()}`);
  }
  return program;
}

function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)]);
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // Help and version are successes; every other commander error is a usage error (it printed why).
    const isHelp = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
    const isGroupHelp = err.code === 'commander.help';
    process.exitCode = isHelp || (isGroupHelp && err.exitCode === 0) ? EXIT.ok : EXIT.usage;
  }
}

await main(process.argv);
