// The preflight judges of what logical replication does not carry (source-capture-gap-checks.ts),
// of the source's extensions against the target server (target-extension-checks.ts) and of the
// connector's numeric settings (connect-numeric-checks.ts).
import { describe, expect, it } from 'vitest';
import {
  judgeNumericSettings,
  readConnectorFileConfig,
} from '../../migrate/preflight/connect-numeric-checks.js';
import {
  type CaptureGapFacts,
  judgeLargeObjects,
  judgeSequences,
  judgeUncapturedTables,
  judgeUnloggedTables,
} from '../../migrate/preflight/source-capture-gap-checks.js';
import { judgeExtensions } from '../../migrate/preflight/target-extension-checks.js';

const clean: CaptureGapFacts = {
  unloggedCaptured: [],
  uncaptured: [],
  largeObjects: 0,
  largeObjectColumns: [],
  uncoveredSequences: [],
};

describe('unlogged tables', () => {
  it('passes without any', () => {
    expect(judgeUnloggedTables(clean).status).toBe('pass');
  });

  it('fails a captured UNLOGGED table with the SET LOGGED fix', () => {
    const verdict = judgeUnloggedTables({ ...clean, unloggedCaptured: ['app.cache'] });
    expect(verdict.status).toBe('fail');
    expect(verdict.message).toContain('ALTER TABLE app.cache SET LOGGED');
    expect(verdict.details).toEqual(['app.cache: ALTER TABLE app.cache SET LOGGED']);
  });

  it('warns about an UNLOGGED table the publication skipped in a captured schema', () => {
    const verdict = judgeUnloggedTables({
      ...clean,
      uncaptured: [
        { name: 'app.sessions', unlogged: true },
        { name: 'app.audit', unlogged: false },
      ],
    });
    expect(verdict.status).toBe('warn');
    expect(verdict.details).toEqual(['app.sessions: ALTER TABLE app.sessions SET LOGGED']);
  });
});

describe('large objects', () => {
  it('passes when the database has none, naming oid columns anyway', () => {
    expect(judgeLargeObjects(clean)).toEqual({
      status: 'pass',
      message: 'no large objects in the source database',
    });
    expect(judgeLargeObjects({ ...clean, largeObjectColumns: ['app.doc.blob'] }).message).toContain(
      'app.doc.blob',
    );
  });

  it('warns with the count, the fix and the oid/lo columns', () => {
    const verdict = judgeLargeObjects({
      ...clean,
      largeObjects: 3,
      largeObjectColumns: ['app.doc.blob'],
    });
    expect(verdict.status).toBe('warn');
    expect(verdict.message).toMatch(/^3 large object\(s\)/);
    expect(verdict.message).toContain('bytea');
    expect(verdict.details).toEqual(['app.doc.blob']);
  });
});

describe('tables left out of the migration', () => {
  it('passes when every table of the captured schemas is captured', () => {
    expect(judgeUncapturedTables(clean).status).toBe('pass');
  });

  it('warns naming each, marking the UNLOGGED ones', () => {
    const verdict = judgeUncapturedTables({
      ...clean,
      uncaptured: [
        { name: 'app.audit', unlogged: false },
        { name: 'app.sessions', unlogged: true },
      ],
    });
    expect(verdict.status).toBe('warn');
    expect(verdict.message).toContain('ALTER PUBLICATION');
    expect(verdict.details).toEqual([
      'app.audit',
      'app.sessions (UNLOGGED: no publication can carry it)',
    ]);
  });
});

describe('sequences cutover does not set', () => {
  it('passes when every sequence belongs to a captured column', () => {
    expect(judgeSequences(clean).status).toBe('pass');
  });

  it('warns, saying what the sequence sync covers and how to set the others', () => {
    const verdict = judgeSequences({
      ...clean,
      uncoveredSequences: [
        { name: 'app.invoice_no', usedBy: [] },
        { name: 'app.audit_id_seq', usedBy: ['app.audit.id'] },
      ],
    });
    expect(verdict.status).toBe('warn');
    expect(verdict.message).toContain('logical replication does not carry sequence values');
    expect(verdict.message).toContain('serial, identity, OWNED BY');
    expect(verdict.message).toContain('DEFAULT nextval');
    expect(verdict.message).toContain('setval');
    expect(verdict.details).toEqual([
      'app.invoice_no (explicit nextval only)',
      'app.audit_id_seq (used by app.audit.id, not captured)',
    ]);
  });
});

describe('extensions', () => {
  it('passes with only plpgsql (not listed) on the source', () => {
    expect(judgeExtensions([], []).status).toBe('pass');
  });

  it('fails naming an extension the target server cannot create', () => {
    const verdict = judgeExtensions(
      [
        { name: 'postgis', version: '3.4.2' },
        { name: 'pg_trgm', version: '1.6' },
      ],
      [{ name: 'pg_trgm', installedVersion: null, defaultVersion: '1.6' }],
    );
    expect(verdict.status).toBe('fail');
    expect(verdict.message).toContain(': postgis.');
    expect(verdict.message).toContain('schema-sync');
    expect(verdict.details).toEqual([
      'extension postgis (3.4.2 on the source) is not available on the target server',
    ]);
  });

  it('passes when each is available or installed, saying which schema-sync creates', () => {
    const verdict = judgeExtensions(
      [
        { name: 'citext', version: '1.6' },
        { name: 'pg_trgm', version: '1.5' },
      ],
      [
        { name: 'citext', installedVersion: null, defaultVersion: '1.6' },
        { name: 'pg_trgm', installedVersion: '1.6', defaultVersion: '1.6' },
        { name: 'hstore', installedVersion: null, defaultVersion: '1.8' },
      ],
    );
    expect(verdict.status).toBe('pass');
    expect(verdict.details).toEqual([
      'citext 1.6: available on the target (1.6), schema-sync creates it',
      'pg_trgm: installed on the target (1.6, the source has 1.5)',
    ]);
  });
});

describe("the connector's numeric settings", () => {
  it('passes string mode with every source type propagated', () => {
    const verdict = judgeNumericSettings(
      { 'decimal.handling.mode': 'string', 'column.propagate.source.type': '.*' },
      'connector x',
    );
    expect(verdict.status).toBe('pass');
  });

  it('fails string mode without the propagated source types', () => {
    for (const propagate of [undefined, 'public.orders.amount']) {
      const config = {
        'decimal.handling.mode': 'string',
        ...(propagate === undefined ? {} : { 'column.propagate.source.type': propagate }),
      };
      expect(judgeNumericSettings(config, 'f').status).toBe('fail');
    }
  });

  it('warns about precise (also the default), fails double', () => {
    const precise = judgeNumericSettings({}, 'connector x');
    expect(precise.status).toBe('warn');
    expect(precise.message).toContain('16.0000000000000000 arrives as 16');
    expect(precise.message).toContain('decimal.handling.mode=string');
    expect(judgeNumericSettings({ 'decimal.handling.mode': 'double' }, 'f').status).toBe('fail');
  });

  it("passes the project's connector file", async () => {
    const config = await readConnectorFileConfig('connect-config/debezium-source.json');
    expect(judgeNumericSettings(config, 'file').status).toBe('pass');
  });
});
