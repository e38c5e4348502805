// Destructive commands are explicit: the plans resnapshot, cutover/rollback, rollback prepare and
// copy --restart print (every object, where it lives, no credential, in the order they act), and
// the confirmation: --yes, the database name typed on a terminal, or nothing changes.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import type { CliIo } from '../../migrate/command-context.js';
import { confirmDestructive } from '../../migrate/confirm-destructive.js';
import { planCopyRestart } from '../../migrate/copy/copy-restart-plan.js';
import { buildGateChangePlan } from '../../migrate/cutover/gate-change-plan.js';
import type { PrepareResult } from '../../migrate/cutover/reverse-replication.js';
import { buildRollbackPreparePlan } from '../../migrate/cutover/rollback-prepare-plan.js';
import { type DestructivePlan, formatDestructivePlan } from '../../migrate/destructive-plan.js';
import { planResnapshot, type ResnapshotFacts } from '../../migrate/resnapshot/resnapshot-plan.js';

const TARGET = { host: 'target.db', port: 5433, database: 'shop' };
const SOURCE = { host: 'source.db', port: 5432, database: 'shop_old' };

const RESNAPSHOT: ResnapshotFacts = {
  connectUrl: 'http://admin:connect-secret@connect:8083',
  connectorName: 'pgferry-source',
  connectorState: 'FAILED',
  target: TARGET,
  tables: [
    { schema: 'public', name: 'accounts' },
    { schema: 'public', name: 'my.table' },
  ],
  groupId: 'pgferry',
  topics: ['cdc.public.accounts', 'cdc.public.my.table'],
  brokers: ['k1:9092', 'k2:9092'],
  slotName: 'pgferry_slot',
  source: SOURCE,
  slotExists: false,
};

const SMALL_PLAN: DestructivePlan = {
  command: 'pgferry demo',
  steps: [{ action: 'TRUNCATE', where: 'target target.db:5433/shop', objects: ['public.a'] }],
  notes: ['stop pgferry run first'],
  confirmWord: 'shop',
};

/** An io that records what is written; a terminal on stdin and stdout when `answer` is given. */
function fakeIo(terminal?: { answer: string | undefined; stdoutTty?: boolean }) {
  const out = { stdout: '', stderr: '', asked: 0 };
  const io: CliIo = {
    stdout: (text) => {
      out.stdout += text;
    },
    stderr: (text) => {
      out.stderr += text;
    },
    logDestination: { write: () => undefined },
    ...(terminal
      ? {
          isTty: terminal.stdoutTty ?? true,
          isStdinTty: true,
          readLine: async () => {
            out.asked += 1;
            return terminal.answer;
          },
        }
      : {}),
  };
  return { io, out };
}

describe('formatDestructivePlan', () => {
  it('numbers the steps, says where each acts and lists every object on its own line', () => {
    expect(formatDestructivePlan(SMALL_PLAN)).toBe(
      [
        'pgferry demo will, in this order:',
        '  1. TRUNCATE (target target.db:5433/shop)',
        '       public.a',
        '  note: stop pgferry run first',
        '',
      ].join('\n'),
    );
  });
});

describe('planResnapshot', () => {
  const plan = planResnapshot(RESNAPSHOT);

  it('resets the target before it deletes anything it cannot recreate, and clears the mark last', () => {
    expect(plan.steps.map((s) => s.action.split(/[;:,]/)[0])).toEqual([
      'stop the connector',
      'in one transaction',
      "move consumer group pgferry's offsets to the end of these topics",
      'delete the connector and its Connect offsets',
      'clear the slot-loss mark (status and cutover stop refusing)',
    ]);
    const reset = plan.steps[1];
    expect(reset?.action).toContain('TRUNCATE');
    expect(reset?.action).toContain('pgferry.copy_tables');
    expect(reset?.where).toBe('target target.db:5433/shop');
    // The topic → table mapping's names, a dot inside a table name included.
    expect(reset?.objects).toEqual(['public.accounts', 'public."my.table"']);
  });

  it('names the connector with its state, the topics, the brokers and the slot', () => {
    expect(plan.steps[0]?.objects).toEqual(['pgferry-source (now FAILED)']);
    expect(plan.steps[2]?.objects).toEqual(['cdc.public.accounts', 'cdc.public.my.table']);
    expect(plan.steps[2]?.where).toBe('Kafka k1:9092,k2:9092');
    expect(plan.steps[4]?.objects).toEqual(['slot pgferry_slot']);
    expect(plan.notes.join('\n')).toContain(
      'slot pgferry_slot does not exist on the source source.db:5432/shop_old',
    );
    expect(plan.confirmWord).toBe('shop');
  });

  it('shows the Connect URL without its credentials', () => {
    const text = formatDestructivePlan(plan);
    expect(text).toContain('(Connect http://connect:8083)');
    expect(text).not.toContain('connect-secret');
    expect(text).not.toContain('admin');
  });

  it('without a connector: nothing to stop or delete, the target still reset first', () => {
    const bare = planResnapshot({ ...RESNAPSHOT, connectorState: undefined, tables: [] });
    expect(bare.steps).toHaveLength(3);
    expect(bare.steps[0]?.objects).toEqual([
      "no table: pgferry has written none of this pipeline's tables",
    ]);
    expect(bare.notes[0]).toContain('connector pgferry-source is not registered');
  });

  it('tells to drop a slot that survived (resnapshot cannot: it needs REPLICATION)', () => {
    const kept = planResnapshot({ ...RESNAPSHOT, slotExists: true });
    expect(kept.notes.join('\n')).toContain("SELECT pg_drop_replication_slot('pgferry_slot')");
  });
});

describe('buildGateChangePlan', () => {
  it('cutover: the target sequences it raises and the report it writes; gates 1-3 only read', () => {
    const plan = buildGateChangePlan({
      direction: 'cutover',
      from: SOURCE,
      to: TARGET,
      tables: ['public.accounts'],
      sequences: [{ sequence: 'public.accounts_id_seq', column: 'public.accounts.id' }],
      reportDir: 'cutover-reports',
    });
    expect(plan.command).toBe('pgferry cutover');
    expect(plan.steps[0]?.where).toBe('target target.db:5433/shop');
    expect(plan.steps[0]?.objects).toEqual(['public.accounts_id_seq (public.accounts.id)']);
    expect(plan.steps[1]?.objects).toEqual([
      'cutover-reports/cutover-<start time>.json',
      'cutover-reports/cutover-<start time>.md',
    ]);
    expect(plan.notes[0]).toContain('gates 1 to 3 only read');
    expect(plan.confirmWord).toBe('shop');
  });

  it('rollback: the sequences of the old source, which it asks for by name', () => {
    const plan = buildGateChangePlan({
      direction: 'rollback',
      from: TARGET,
      to: SOURCE,
      tables: [],
      sequences: [],
      reportDir: 'r',
    });
    expect(plan.steps[0]?.where).toBe('source source.db:5432/shop_old');
    expect(plan.steps[0]?.objects).toEqual(['no sequence: the tables use none']);
    expect(plan.confirmWord).toBe('shop_old');
  });
});

describe('buildRollbackPreparePlan', () => {
  const config = loadConfig({
    KAFKA_BOOTSTRAP: 'k:9092',
    TARGET_DB_HOST: 'target.db',
    TARGET_DB_PORT: '5433',
    TARGET_DB_NAME: 'shop',
    TARGET_DB_USER: 'pgferry',
    TARGET_DB_PASSWORD: 'target-secret',
    SOURCE_DB_HOST: 'source.db',
    SOURCE_DB_NAME: 'shop_old',
    SOURCE_DB_USER: 'reader',
    SOURCE_DB_PASSWORD: 'reader-secret',
    ROLLBACK_DB_USER: 'writer',
    ROLLBACK_DB_PASSWORD: 'writer-secret',
    CONNECT_URL: 'http://ops:connect-secret@connect:8083',
  });
  const checked: PrepareResult = {
    ok: true,
    dryRun: true,
    tables: ['public.accounts', 'public.orders'],
    steps: [],
    next: [],
    publicationSql: 'CREATE PUBLICATION "p" FOR TABLE ...',
    forwardState: 'RUNNING',
  };

  it('publication, forward connector stopped, reverse connector and its slot, in that order', () => {
    const plan = buildRollbackPreparePlan(config, checked);
    expect(plan.steps.map((s) => s.objects)).toEqual([
      ['public.accounts', 'public.orders'],
      ['pgferry-source (now RUNNING)'],
      ['pgferry-reverse'],
      ['pgferry_reverse_slot'],
    ]);
    expect(plan.steps[0]?.action).toContain('create publication pgferry_reverse_publication');
    expect(plan.steps[3]?.where).toBe('target target.db:5433/shop');
    expect(plan.notes.join('\n')).toContain('forward slot pgferry_slot on the source source.db');
    expect(formatDestructivePlan(plan)).not.toContain('connect-secret');
    expect(plan.confirmWord).toBe('shop');
  });

  it('leaves out what is already so: an up-to-date publication, no forward connector', () => {
    const plan = buildRollbackPreparePlan(config, {
      ...checked,
      publicationSql: null,
      forwardState: null,
    });
    expect(plan.steps.map((s) => s.objects[0])).toEqual([
      'pgferry-reverse',
      'pgferry_reverse_slot',
    ]);
    expect(plan.notes[0]).toContain('already has the 2 table(s)');
    expect(plan.notes[1]).toContain('not registered');
  });
});

describe('planCopyRestart', () => {
  it('names every table it empties on the target', () => {
    const plan = planCopyRestart(TARGET, [
      { schema: 'public', name: 'orders' },
      { schema: 'Sales', name: 'order lines' },
    ]);
    expect(formatDestructivePlan(plan)).toContain(
      '(target target.db:5433/shop)\n       public.orders\n       "Sales"."order lines"\n',
    );
    expect(plan.confirmWord).toBe('shop');
  });
});

describe('confirmDestructive', () => {
  it('--yes: goes ahead without asking, after printing the plan', async () => {
    const { io, out } = fakeIo({ answer: 'no' });
    expect(await confirmDestructive(SMALL_PLAN, { yes: true }, io)).toEqual({
      confirmed: true,
      by: '--yes',
    });
    expect(out.asked).toBe(0);
    expect(out.stdout).toBe(formatDestructivePlan(SMALL_PLAN));
  });

  it('no terminal and no --yes: prints the plan and refuses, never waits for an answer', async () => {
    const { io, out } = fakeIo();
    expect(await confirmDestructive(SMALL_PLAN, {}, io)).toEqual({
      confirmed: false,
      by: 'no-terminal',
    });
    expect(out.stdout).toBe(
      `${formatDestructivePlan(SMALL_PLAN)}Nothing changed: add --yes to do it.\n`,
    );
  });

  it('stdin a terminal but stdout not (piped): does not ask', async () => {
    const { io, out } = fakeIo({ answer: 'shop', stdoutTty: false });
    expect((await confirmDestructive(SMALL_PLAN, {}, io)).by).toBe('no-terminal');
    expect(out.asked).toBe(0);
  });

  it('on a terminal: the database name typed goes ahead', async () => {
    const { io, out } = fakeIo({ answer: '  shop ' });
    expect(await confirmDestructive(SMALL_PLAN, {}, io)).toEqual({ confirmed: true, by: 'typed' });
    expect(out.asked).toBe(1);
    expect(out.stdout).toContain('Type the name of the database this changes (shop) to go on');
  });

  it.each([['yes'], ['y'], ['SHOP'], [''], [undefined]])(
    'on a terminal: %s declines, nothing changed',
    async (answer) => {
      const { io, out } = fakeIo({ answer });
      expect(await confirmDestructive(SMALL_PLAN, {}, io)).toEqual({
        confirmed: false,
        by: 'declined',
      });
      expect(out.stdout).toMatch(/Nothing changed \(not confirmed\)\.\n$/);
    },
  );

  it('--json: the plan and the question go to stderr, stdout stays for the JSON answer', async () => {
    const asked = fakeIo({ answer: 'shop' });
    expect((await confirmDestructive(SMALL_PLAN, { json: true }, asked.io)).confirmed).toBe(true);
    expect(asked.out.stdout).toBe('');
    expect(asked.out.stderr).toContain('pgferry demo will, in this order:');
    const refused = fakeIo();
    await confirmDestructive(SMALL_PLAN, { json: true }, refused.io);
    expect(refused.out.stdout).toBe('');
    expect(refused.out.stderr).toContain('add --yes');
    const yes = fakeIo();
    await confirmDestructive(SMALL_PLAN, { json: true, yes: true }, yes.io);
    expect(yes.out.stdout + yes.out.stderr).toBe('');
  });
});
