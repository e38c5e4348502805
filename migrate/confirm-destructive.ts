// A command that empties tables, removes a connector or changes production state acts only when
// the operator says so: with --yes, or by typing the name of the database it changes when asked on
// a terminal. Anywhere else (CI, a pipe, cron, no stdin) it prints its plan and changes nothing: a
// script has to say --yes, and never hangs on a question nobody can answer.
import type { CliIo } from './command-context.js';
import { type DestructivePlan, formatDestructivePlan } from './destructive-plan.js';

export interface Confirmation {
  confirmed: boolean;
  /**
   * How it was confirmed (`--yes`, `typed` on the terminal) or why not (`declined` on the
   * terminal, `no-terminal`: nobody to ask and no --yes).
   */
  by: '--yes' | 'typed' | 'declined' | 'no-terminal';
}

export interface ConfirmOptions {
  yes?: boolean;
  /** stdout carries only the command's JSON (which holds the plan): the text goes to stderr. */
  json?: boolean;
}

/**
 * Prints the plan, then decides: --yes goes on; on a terminal (stdin and stdout) the operator
 * must type the plan's confirmWord (the database name: a reflexive "y" is not enough, and it
 * makes them read which database this is); otherwise nothing happens.
 */
export async function confirmDestructive(
  plan: DestructivePlan,
  options: ConfirmOptions,
  io: CliIo,
): Promise<Confirmation> {
  const say = options.json ? io.stderr : io.stdout;
  if (options.yes) {
    // The JSON answer holds the plan; printed, it would only repeat it on stderr.
    if (!options.json) say(formatDestructivePlan(plan));
    return { confirmed: true, by: '--yes' };
  }
  say(formatDestructivePlan(plan));
  if (canAsk(io)) {
    say(
      `Type the name of the database this changes (${plan.confirmWord}) to go on; anything else cancels: `,
    );
    const answer = await io.readLine();
    if (answer?.trim() === plan.confirmWord) return { confirmed: true, by: 'typed' };
    say(`${answer === undefined ? '\n' : ''}Nothing changed (not confirmed).\n`);
    return { confirmed: false, by: 'declined' };
  }
  say('Nothing changed: add --yes to do it.\n');
  return { confirmed: false, by: 'no-terminal' };
}

/** Someone at a terminal can answer: stdin and stdout are both one, and the io can read a line. */
function canAsk(io: CliIo): io is CliIo & { readLine: () => Promise<string | undefined> } {
  return io.isStdinTty === true && io.isTty === true && io.readLine !== undefined;
}
