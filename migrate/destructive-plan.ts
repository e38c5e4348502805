// What a command that changes or removes things (resnapshot, cutover, rollback, rollback prepare,
// copy --restart) is about to do, step by step, printed before it acts and kept in its --json
// output: the operator confirms exactly this, so it names every table, connector, slot and
// consumer group, and where each lives (host and database, Connect URL), never a credential.
import { redactUrl } from '../core/redact-url.js';
import { quoteIdent } from '../core/sql-identifier.js';

export interface PlannedStep {
  /** What happens, as the operator reads it: "TRUNCATE", "stop the connector (it can be resumed)". */
  action: string;
  /** Where it happens: a database (host:port/database), Connect, Kafka; never with credentials. */
  where: string;
  /** Exactly what it happens to, one entry per table, connector, slot or group (may be empty). */
  objects: string[];
}

export interface DestructivePlan {
  /** The command as typed: "pgferry resnapshot". */
  command: string;
  /** In the order they run. */
  steps: PlannedStep[];
  /** What the operator should know but that is not a change (what is kept, what to do after). */
  notes: string[];
  /** The word the interactive confirmation asks for: the name of the database it changes. */
  confirmWord: string;
}

/** "host:port/database" of a database, as plans and messages name it. */
export function describeDatabase(settings: { host: string; port: number; database: string }) {
  return `${settings.host}:${settings.port}/${settings.database}`;
}

/** "Connect <url>" without the user:password@ a CONNECT_URL may carry. */
export function describeConnect(url: string): string {
  return `Connect ${redactUrl(url)}`;
}

// A name PostgreSQL would not need to quote; anything else is quoted, so "public"."my.table"
// never reads as a table "table" in a schema "public.my".
const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** A name as PostgreSQL prints it: quoted only when it must be. */
export function describeIdentifier(name: string): string {
  return PLAIN_IDENTIFIER.test(name) ? name : quoteIdent(name);
}

/** schema.name of a table or sequence, unambiguous (see describeIdentifier). */
export function describeTable(table: { schema: string; name: string }): string {
  return `${describeIdentifier(table.schema)}.${describeIdentifier(table.name)}`;
}

/** The plan as printed before the command acts: numbered steps, one object per line. */
export function formatDestructivePlan(plan: DestructivePlan): string {
  const lines = [`${plan.command} will, in this order:`];
  plan.steps.forEach((step, i) => {
    lines.push(`  ${i + 1}. ${step.action} (${step.where})`);
    for (const object of step.objects) lines.push(`       ${object}`);
  });
  if (plan.steps.length === 0) lines.push('  nothing: there is nothing to change');
  for (const note of plan.notes) lines.push(`  note: ${note}`);
  return `${lines.join('\n')}\n`;
}
