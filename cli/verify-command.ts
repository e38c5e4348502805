// `pgferry verify` (being built).
import type { RegisterCommand } from './command-context.js';

export const registerVerifyCommand: RegisterCommand = (program) => {
  program.command('verify').description('(not implemented yet)');
};
