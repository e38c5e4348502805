// Runs one `pgferry` command in-process (runCli) with `env`, capturing what it prints: the
// tests' view of the command exactly as a user sees it, without a child process.
import { type CliIo, runCli } from '../../cli/run-cli.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The JSON log lines the command wrote (a real run sends them to stderr). */
  log: string;
}

export async function runPgferryCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  let log = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    logDestination: {
      write: (line) => {
        log += line;
      },
    },
  };
  const code = await runCli(argv, env, io);
  return { code, stdout, stderr, log };
}
