// `pgferry rollback` (being built).
import type { RegisterCommand } from './command-context.js';

export const registerRollbackCommands: RegisterCommand = (program) => {
  program.command('rollback').description('(not implemented yet)');
};
