// `pgferry pause` (being built).
import type { RegisterCommand } from './command-context.js';

export const registerPauseResumeCommands: RegisterCommand = (program) => {
  program.command('pause').description('(not implemented yet)');
};
