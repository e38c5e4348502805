// What verify compares of one table pair: reads both sides' columns and keys and decides the
// compared columns and key order, or says why the pair cannot be compared.
import type pg from 'pg';
import { formatTableName, type MigrationTable } from '../migration-tables.js';
import type { ChunkTable } from './chunk-checksum-sql.js';

/** Both sides of a comparable table pair, as the chunk SQL reads them. */
export interface TableComparison {
  source: ChunkTable;
  target: ChunkTable;
}

interface ColumnInfo {
  name: string;
  type: string;
  generated: boolean;
  keyPosition: number | null;
  /** How text-like values sort: chunk ranges only line up when both sides sort keys alike. */
  collation: string | null;
}

/** Reads both catalogs and decides what to compare, or why this table cannot be compared. */
export async function planTableComparison(
  source: pg.ClientBase,
  target: pg.ClientBase,
  pair: { source: MigrationTable; target: MigrationTable },
): Promise<TableComparison | string> {
  const sourceColumns = await readColumns(source, pair.source);
  const targetColumns = await readColumns(target, pair.target);
  return decideComparison(pair, sourceColumns, targetColumns);
}

async function readColumns(
  client: pg.ClientBase,
  table: MigrationTable,
): Promise<ColumnInfo[] | undefined> {
  const result = await client.query<{
    name: string | null;
    type: string | null;
    generated: boolean | null;
    key_position: string | null;
    collation: string | null;
  }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attgenerated <> '' AS generated, k.position AS key_position,
            CASE WHEN a.attcollation = 0 THEN NULL
                 WHEN co.collname = 'default' THEN 'default (' || d.datcollate || ')'
                 ELSE co.collname END AS collation
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
       LEFT JOIN pg_database d ON d.datname = current_database()
       LEFT JOIN LATERAL (
         SELECT u.position
           FROM pg_index i, unnest(i.indkey::int2[]) WITH ORDINALITY AS u(attnum, position)
          WHERE i.indrelid = c.oid AND i.indisprimary AND u.attnum = a.attnum
       ) k ON true
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
      ORDER BY a.attnum`,
    [table.schema, table.name],
  );
  if (result.rows.length === 0) return undefined;
  return result.rows.flatMap((r) =>
    r.name === null || r.type === null
      ? []
      : [
          {
            name: r.name,
            type: r.type,
            generated: r.generated === true,
            keyPosition: r.key_position === null ? null : Number(r.key_position),
            collation: r.collation,
          },
        ],
  );
}

const keyColumnsOf = (columns: readonly ColumnInfo[]): ColumnInfo[] =>
  columns
    .filter((c) => c.keyPosition !== null)
    .sort((a, b) => (a.keyPosition ?? 0) - (b.keyPosition ?? 0));

function decideComparison(
  pair: { source: MigrationTable; target: MigrationTable },
  sourceColumns: ColumnInfo[] | undefined,
  targetColumns: ColumnInfo[] | undefined,
): TableComparison | string {
  const sourceName = formatTableName(pair.source);
  const targetName = formatTableName(pair.target);
  if (sourceColumns === undefined) return `${sourceName} does not exist on the source`;
  if (targetColumns === undefined) return `${targetName} does not exist on the target`;
  const sourceKey = keyColumnsOf(sourceColumns);
  // Generated columns are not replicated (the target computes its own, or has none).
  const compared = sourceColumns.filter((c) => !c.generated);
  const targetByName = new Map(targetColumns.map((c) => [c.name, c]));
  const absent = compared.filter((c) => !targetByName.has(c.name)).map((c) => c.name);
  if (absent.length > 0) {
    return `column${absent.length === 1 ? '' : 's'} ${absent.join(', ')} missing on the target`;
  }
  const columns = compared.map((c) => c.name);
  if (sourceKey.length === 0) {
    // No primary key on the source: both sides compared as multisets of rows (whatever key the
    // target has, e.g. the unique index of a REPLICA IDENTITY USING INDEX table).
    return {
      source: { ...pair.source, keyColumns: [], columns },
      target: { ...pair.target, keyColumns: [], columns },
    };
  }
  const targetKey = keyColumnsOf(targetColumns);
  const names = (columns: readonly ColumnInfo[]) => columns.map((c) => c.name).join(', ');
  if (names(targetKey) !== names(sourceKey)) {
    return `primary keys differ: (${names(sourceKey)}) on the source, (${targetKey.length === 0 ? 'none' : names(targetKey)}) on the target`;
  }
  for (const [index, column] of sourceKey.entries()) {
    const other = targetKey[index];
    if (other !== undefined && other.collation !== column.collation) {
      return `key column ${column.name} sorts by collation ${column.collation} on the source but ${other.collation} on the target: chunk ranges would not line up`;
    }
  }
  return {
    source: {
      ...pair.source,
      keyColumns: sourceKey.map((c) => ({ name: c.name, type: c.type })),
      columns,
    },
    target: {
      ...pair.target,
      keyColumns: targetKey.map((c) => ({ name: c.name, type: c.type })),
      columns,
    },
  };
}
