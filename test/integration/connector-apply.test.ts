// `pgferry connector apply` against the real Connect worker: registering is idempotent and the
// connector ends RUNNING with its task; `connector status` reports it.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/run-cli.js';
import { ConnectClient } from '../../core/connect-client.js';
import { applyConnector } from '../../migrate/connector/connector-apply.js';
import { readConnectorDefinition } from '../../migrate/connector/connector-definition.js';
import { loadStackEnv, repoPath } from '../support/stack-env.js';

const stack = loadStackEnv();

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (t: string) => out.push(t),
      stderr: (t: string) => err.push(t),
      logDestination: { write: (t: string) => err.push(t) },
    },
  };
}

describe('connector apply on the real Connect worker', () => {
  it('is idempotent: a second apply of the same file changes nothing and the task runs', async () => {
    const definition = await readConnectorDefinition(
      repoPath('connect-config/debezium-source.json'),
    );
    const client = new ConnectClient({ baseUrl: stack.connectUrl });
    const first = await applyConnector({
      client,
      name: 'pgferry-source',
      config: definition.config,
      timeoutMs: 180_000,
    });
    expect(['created', 'updated', 'unchanged']).toContain(first.action);
    const second = await applyConnector({
      client,
      name: 'pgferry-source',
      config: definition.config,
      timeoutMs: 60_000,
    });
    expect(second.action).toBe('unchanged');
    expect(second.status.connector.state).toBe('RUNNING');
    expect(second.status.tasks.length).toBeGreaterThan(0);
    expect(second.status.tasks.every((t) => t.state === 'RUNNING')).toBe(true);
    // Placeholders stay unresolved in the stored config: no secret is written into Connect.
    const stored = await client.getConnectorConfig('pgferry-source');
    expect(stored?.['database.password']).toBe('${env:DEBEZIUM_DB_PASSWORD}');
  });

  it('the CLI reports the running connector with exit code 0 and JSON output', async () => {
    const { io, out } = captureIo();
    const code = await runCli(
      ['connector', 'status', '--json'],
      { ...stack.vars, CONNECT_URL: stack.connectUrl },
      io,
    );
    expect(code).toBe(0);
    const report = JSON.parse(out.join(''));
    expect(JSON.stringify(report)).toContain('RUNNING');
  });
});
