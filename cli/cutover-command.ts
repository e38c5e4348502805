// `pgferry cutover` (being built).
import type { RegisterCommand } from './command-context.js';

export const registerCutoverCommand: RegisterCommand = (program) => {
  program.command('cutover').description('(not implemented yet)');
};
