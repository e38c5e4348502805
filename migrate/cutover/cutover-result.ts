// What a cutover (or rollback) run found, gate by gate: the result `pgferry cutover --json` prints
// and the report files hold, and the readings the gates take from status and verify.

export type GateName = 'writes-stopped' | 'caught-up' | 'verified' | 'sequences' | 'report';
export type GateStatus = 'passed' | 'failed' | 'skipped';

export interface GateResult {
  gate: GateName;
  status: GateStatus;
  seconds: number;
  /** One line: why it passed, failed or was skipped. */
  summary: string;
  details?: unknown;
}

/** What cutover needs from the consumer-lag reader (migrate/status/migration-status.ts). */
export interface ConsumerLagReading {
  totalLag: number;
  partitions: { topic: string; partition: number; lag: number }[];
  error?: string;
}

/** What cutover needs from verify (migrate/verify/table-verify.ts). */
export interface VerifyReading {
  match: boolean;
  tables: {
    source: string;
    target: string;
    match: boolean;
    sourceRows: number;
    targetRows: number;
    checksum: string;
    differences: { kind: string; key: Record<string, string | null> }[];
    error?: string;
  }[];
}

export interface CutoverResult {
  direction: 'cutover' | 'rollback';
  ok: boolean;
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  source: string;
  target: string;
  tables: string[];
  gates: GateResult[];
  /** Files written by the report gate. */
  reportFiles: string[];
}
