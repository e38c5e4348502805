import pg from 'pg';
import { ConfigError, PgferryError } from '../../core/errors.js';
import { ignoreIdleErrors } from '../../core/pg-connection.js';
import { type Env, numberOption, type RegisterCommand } from '../command-context.js';
import { type DemoLoadSummary, runDemoLoad } from './demo-load.js';
import {
  formatDemoLoadProgress,
  formatDemoLoadStart,
  formatDemoLoadSummary,
  toDemoLoadJson,
} from './demo-load-report.js';
import { chooseDemoSeed } from './demo-random.js';
import {
  DEFAULT_DEMO_SEED_SIZE,
  DEMO_SCHEMA,
  type DemoSetupResult,
  setupDemoSchema,
} from './demo-schema.js';

interface SourceUrlOption {
  sourceUrl?: string;
}

interface SetupOptions extends SourceUrlOption {
  users: number;
  orders: number;
  json?: boolean;
}

interface LoadOptions extends SourceUrlOption {
  rate: number;
  duration?: number;
  seed?: number;
  progressEvery: number;
  json?: boolean;
}

export const registerDemoCommands: RegisterCommand = (program, { env, io }) => {
  const demo = program
    .command('demo')
    .description('a sample source schema and a write load on it, for trying pgferry out');

  demo
    .command('setup')
    .description(
      `create the sample tables on the source (${DEMO_SCHEMA}.users, products, orders, order_items) and seed the empty ones; idempotent`,
    )
    .option(
      '--source-url <url>',
      'source PostgreSQL URL of a role that may create tables (default: SOURCE_DATABASE_URL)',
    )
    .option(
      '--users <n>',
      'users to seed into an empty users table',
      parseCountOption,
      DEFAULT_DEMO_SEED_SIZE.users,
    )
    .option(
      '--orders <n>',
      'orders (with 1-4 items each) to seed into an empty orders table',
      parseCountOption,
      DEFAULT_DEMO_SEED_SIZE.orders,
    )
    .option('--json', 'print the result as JSON')
    .action(async (options: SetupOptions) => {
      const client = await connectSource(resolveSourceUrl(options, env), 'pgferry-demo-setup');
      try {
        const result = await setupDemoSchema(client, {
          users: options.users,
          orders: options.orders,
        });
        io.stdout(
          options.json ? `${JSON.stringify(result, null, 2)}\n` : formatSetupResult(result),
        );
      } finally {
        await client.end().catch(() => undefined);
      }
    });

  demo
    .command('load')
    .description(
      'write to the sample tables (inserts, updates, deletes, multi-statement transactions) at a steady rate until the duration ends or SIGINT/SIGTERM, then print a summary',
    )
    .option('--rate <rows>', 'changed rows per second', parseRateOption, 50)
    .option(
      '--duration <seconds>',
      'stop after this many seconds (default: until Ctrl-C)',
      parseSecondsOption,
    )
    .option(
      '--source-url <url>',
      'source PostgreSQL URL of a role that may write the sample tables (default: SOURCE_DATABASE_URL)',
    )
    .option(
      '--seed <n>',
      'seed of the operation sequence: the same seed, the same operations',
      parseSeedOption,
    )
    .option(
      '--progress-every <seconds>',
      'print a progress line this often',
      parseSecondsOption,
      10,
    )
    .option('--json', 'print the summary as JSON (no start and progress lines)')
    .action(async (options: LoadOptions) => {
      const url = resolveSourceUrl(options, env);
      const seed = options.seed ?? chooseDemoSeed();
      const durationMs = options.duration === undefined ? undefined : options.duration * 1000;
      const client = await connectSource(url, 'pgferry-demo-load');
      const controller = new AbortController();
      // `on`, not `once`: a second signal (Ctrl-C on the terminal and a script's kill) must not
      // fall through to the default action while the last transaction finishes.
      const onSignal = () => controller.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let summary: DemoLoadSummary;
      try {
        if (!options.json)
          io.stdout(`${formatDemoLoadStart({ rate: options.rate, durationMs, seed })}\n`);
        summary = await runDemoLoad({
          client,
          rate: options.rate,
          ...(durationMs === undefined ? {} : { durationMs }),
          signal: controller.signal,
          seed,
          progressIntervalMs: options.progressEvery * 1000,
          ...(options.json
            ? {}
            : { onProgress: (p) => io.stdout(`${formatDemoLoadProgress(p)}\n`) }),
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await client.end().catch(() => undefined);
      }
      io.stdout(
        options.json
          ? `${JSON.stringify(toDemoLoadJson(summary))}\n`
          : `${formatDemoLoadSummary(summary)}\n`,
      );
    });
};

function resolveSourceUrl(options: SourceUrlOption, env: Env): string {
  const url = options.sourceUrl ?? env.SOURCE_DATABASE_URL;
  if (url === undefined || url.trim() === '') {
    throw new ConfigError([
      {
        setting: 'SOURCE_DATABASE_URL',
        message:
          'not set; the demo writes to the source as a role that may create tables (SOURCE_DB_USER is read-only): pass --source-url postgresql://USER:PASSWORD@HOST:PORT/DB or set SOURCE_DATABASE_URL (`eval "$(npm run --silent stack:env)"` sets it for the local stack)',
      },
    ]);
  }
  if (!/^postgres(?:ql)?:\/\//.test(url)) {
    throw new ConfigError([
      {
        setting: options.sourceUrl === undefined ? 'SOURCE_DATABASE_URL' : '--source-url',
        message: 'expected a postgresql:// URL',
      },
    ]);
  }
  return url;
}

/** host:port/db as user, never the password. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username ? ` as ${decodeURIComponent(u.username)}` : '';
    return `${u.hostname}:${u.port || '5432'}${u.pathname}${user}`;
  } catch {
    return 'the given URL';
  }
}

async function connectSource(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
  });
  try {
    ignoreIdleErrors(client);
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new PgferryError(
      `cannot connect to the source database ${describeUrl(url)}: ${(error as Error).message}`,
      { retriable: true, cause: error },
    );
  }
}

export function formatSetupResult(result: DemoSetupResult): string {
  const lines: string[] = [];
  if (result.typeCreated) lines.push(`type ${DEMO_SCHEMA}.order_status: created`);
  for (const t of result.tables) {
    const what = [
      t.created ? 'created' : 'exists',
      ...(t.seededRows > 0 ? [`seeded ${t.seededRows.toLocaleString('en-US')} rows`] : []),
    ].join(', ');
    lines.push(`table ${DEMO_SCHEMA}.${t.table}: ${what} (${t.rows.toLocaleString('en-US')} rows)`);
  }
  const changed = result.typeCreated || result.tables.some((t) => t.created || t.seededRows > 0);
  lines.push(changed ? 'demo schema ready' : 'demo schema ready (nothing to do)');
  return `${lines.join('\n')}\n`;
}

const parseCountOption = numberOption(
  { integer: true, atMost: 10_000_000 },
  'a whole number from 0 to 10,000,000',
);

const parseRateOption = numberOption(
  { above: 0, atMost: 100_000 },
  'rows per second greater than 0 (at most 100,000)',
);

const parseSecondsOption = numberOption(
  { above: 0, atMost: 31_536_000 },
  'a number of seconds greater than 0',
);

const parseSeedOption = numberOption(
  { integer: true, atMost: 4_294_967_295 },
  'a whole number from 0 to 4294967295',
);
