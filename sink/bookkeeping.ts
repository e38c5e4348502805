// The former single-file home of the bookkeeping schema, kept so that existing importers
// (postgres-sink, target-table, merge-sql, ...) keep working; new code imports from bookkeeping/.
export {
  BOOKKEEPING_SCHEMA,
  DDL_LOCK_KEY,
  ensureBookkeeping,
  offsetsTable,
  slotLossesTable,
  tablesTable,
} from './bookkeeping/bookkeeping-schema.js';
export { readStoredOffsets } from './bookkeeping/offset-rows.js';
export { recordSlotLoss } from './bookkeeping/slot-losses.js';
