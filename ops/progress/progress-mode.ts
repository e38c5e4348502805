// How `pgferry run` shows its progress: a live view redrawn in place on a terminal, a summary log
// line every PROGRESS_LOG_SECONDS elsewhere (CI, systemd, docker), or nothing. `--progress`
// forces a choice; `auto` goes by whether stdout is a terminal.
export const PROGRESS_MODES = ['auto', 'tty', 'log', 'off'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export interface ProgressPlan {
  display: 'view' | 'log' | 'off';
  /**
   * The view and the logs share one terminal (stdout and stderr both are one): logs below `warn`
   * are dropped and the others printed above the view, so no log line lands inside it.
   */
  quietLogs: boolean;
}

export interface ProgressPlanInput {
  requested: ProgressMode;
  stdoutIsTty: boolean;
  stderrIsTty: boolean;
  /** PROGRESS_LOG_SECONDS; 0 = no summary lines. */
  logSeconds: number;
}

export function planProgress(input: ProgressPlanInput): ProgressPlan {
  const view = { display: 'view', quietLogs: input.stdoutIsTty && input.stderrIsTty } as const;
  // The interval setting decides whether summary lines exist at all, even with --progress log.
  const log = { display: input.logSeconds > 0 ? 'log' : 'off', quietLogs: false } as const;
  switch (input.requested) {
    case 'off':
      return { display: 'off', quietLogs: false };
    case 'tty':
      return view;
    case 'log':
      return log;
    case 'auto':
      return input.stdoutIsTty ? view : log;
  }
}

/** The log level while the view owns the terminal: never chattier than `warn`. */
export function quietLogLevel<L extends string>(level: L): L | 'warn' {
  const chatty = ['info', 'debug', 'trace'];
  return chatty.includes(level) ? 'warn' : level;
}

/** Reads a --progress value; undefined when it is not one of PROGRESS_MODES. */
export function readProgressMode(value: string): ProgressMode | undefined {
  const word = value.trim().toLowerCase();
  return PROGRESS_MODES.find((mode) => mode === word);
}
