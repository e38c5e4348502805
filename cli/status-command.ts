// `pgferry status` (being built).
import type { RegisterCommand } from './command-context.js';

export const registerStatusCommand: RegisterCommand = (program) => {
  program.command('status').description('(not implemented yet)');
};
