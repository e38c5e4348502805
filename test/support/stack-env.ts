// Where the local stack is, for integration tests: from the environment when the caller ran
// `eval "$(npm run --silent stack:env)"`, otherwise asked of stack/stack.sh directly.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface StackEnv {
  sourceDatabaseUrl: string;
  targetDatabaseUrl: string;
  kafkaBootstrap: string;
  schemaRegistryUrl: string;
  connectUrl: string;
  prometheusUrl: string;
  /** Every `export NAME=value` of stack:env, for running pgferry as a child process. */
  vars: Record<string, string>;
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

function readStackVars(): Record<string, string> {
  const script = `${repoRoot}stack/stack.sh`;
  const out = execFileSync(
    'bash',
    ['-c', `source <(bash "$1" env) && env -0`, 'stack-env', script],
    {
      encoding: 'utf8',
    },
  );
  const vars: Record<string, string> = {};
  for (const entry of out.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) vars[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return vars;
}

let cached: StackEnv | undefined;

export function loadStackEnv(): StackEnv {
  if (cached) return cached;
  const vars = readStackVars();
  const need = (name: string): string => {
    const value = vars[name];
    if (!value) throw new Error(`stack env is missing ${name}: is stack/stack.sh intact?`);
    return value;
  };
  cached = {
    sourceDatabaseUrl: need('SOURCE_DATABASE_URL'),
    targetDatabaseUrl: need('TARGET_DATABASE_URL'),
    kafkaBootstrap: need('KAFKA_BOOTSTRAP'),
    schemaRegistryUrl: need('SCHEMA_REGISTRY_URL'),
    connectUrl: need('CONNECT_URL'),
    prometheusUrl: need('PROMETHEUS_URL'),
    vars,
  };
  return cached;
}

export const repoPath = (relative: string): string => `${repoRoot}${relative}`;
