/**
 * Turns a command's function into a commander action: builds its context from
 * the global options, runs it, sets the exit code (0, or what it returns: 1 when
 * a check failed), prints a failure in words (never a stack, SQL or secret) and
 * always closes the database it opened.
 */
import type { Command } from 'commander';
import { readConfig } from '../config.ts';
import { describeError, isSignoffError } from '../errors.ts';
import { CliFailure, CliUsageError, createContext, EXIT, type CliContext } from './context.ts';

export type CommandFn<A extends unknown[]> = (ctx: CliContext, ...args: A) => Promise<number | void>;

export interface ActionOptions {
  /** The command works on a database whose migrations are not all applied (`migrate`, `doctor`). */
  allowPending?: boolean;
}

export function action<A extends unknown[]>(fn: CommandFn<A>, opts: ActionOptions = {}) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const isJson = command.optsWithGlobals<{ json?: boolean }>().json === true;
    let ctx: ReturnType<typeof createContext> | null = null;
    try {
      ctx = createContext(readConfig(), { isJson, ...opts });
      process.exitCode = (await fn(ctx, ...(args.slice(0, -1) as A))) ?? EXIT.ok;
    } catch (err) {
      if (err instanceof CliUsageError) {
        process.stderr.write(`error: ${err.message}\nusage: ${commandPath(command)} ${command.usage()}\n`);
        process.exitCode = EXIT.usage;
        return;
      }
      process.stderr.write(`${commandPath(command)}: ${failureText(err)}\n`);
      process.exitCode = EXIT.failed;
    } finally {
      await ctx?.close().catch(() => undefined);
    }
  };
}

/** What went wrong, in words: our own errors say it; others get their message only (no stack). */
function failureText(err: unknown): string {
  if (err instanceof CliFailure || isSignoffError(err)) return err.message;
  const { message } = describeError(err);
  return message;
}

/** `signoff runs show`: the words a user types to reach `command`. */
export function commandPath(command: Command): string {
  return command.parent ? `${commandPath(command.parent)} ${command.name()}` : command.name();
}
