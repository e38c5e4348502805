// `pgferry schema-sync` (being built).
import type { RegisterCommand } from './command-context.js';

export const registerSchemaSyncCommand: RegisterCommand = (program) => {
  program.command('schema-sync').description('(not implemented yet)');
};
