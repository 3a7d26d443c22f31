/**
 * Named crash points (RELIABILITY 29), tests only: SIGNOFF_CRASHPOINTS lists
 * names, and the code at each named point SIGKILLs its own process, the way a
 * power cut would, so a test can restart the bot and check that nothing was
 * lost and nothing happened twice (following DBOS's debug points). Adapters
 * and the desk get the function, never the variable: they read no config.
 *
 * The names (docs/reliability.md, case 29, says what each proves):
 *   after-step:<name>        worker: a step returned, its result not committed
 *   before-deliver-commit    engine: inside a transaction that moves a run, before COMMIT
 *   after-deliver-commit     engine: that transaction committed, nothing after it ran
 *   before-card-post         desk: a review card is about to be posted
 *   slack-event-recorded     Slack: an event's inbox row is written, its command not yet run
 *   slack-command-started    Slack: a slash command's run committed, the command not yet answered
 *   slack-click-acked        Slack: an Approve click is recorded and acknowledged, not yet decided
 *   slack-upload-completed   Slack: a picture's upload completed (shared), its ledger row not yet written
 *   discord-upload-sent      Discord: a message with a picture was created, its ledger row not yet written
 */

/** Kills this process at a named point when the point is armed; does nothing otherwise. */
export type Crashpoint = (name: string) => void;

export function crashpointsFrom(armed: ReadonlySet<string>): Crashpoint {
  return (name) => {
    if (armed.has(name)) process.kill(process.pid, 'SIGKILL');
  };
}

/** No point is armed: what production code uses when nobody passed one. */
export const noCrashpoint: Crashpoint = () => undefined;
