// Why an event was refused by its topic's binding (each a poison message: dead-lettered with the
// reason, counted by its class name in pgferry_dlq_messages_total{reason}). A message never
// chooses where it writes: these are the ways one tried, or was mixed up.
import { PoisonMessageError } from '../../core/errors.js';

/** The event's `source.schema`/`source.table` is not the table its topic names. */
export class TopicTableMismatchError extends PoisonMessageError {}

/** The event maps to pgferry's own bookkeeping schema, which only pgferry writes. */
export class ReservedSchemaError extends PoisonMessageError {}

/** The event's table is outside TABLES_INCLUDE / inside TABLES_EXCLUDE. */
export class TableNotSelectedError extends PoisonMessageError {}

/** The key or value schema id is registered for another topic than the message's. */
export class ForeignSchemaError extends PoisonMessageError {}

/** A row change without a key on a topic whose table has one (the key was left out). */
export class MissingKeyError extends PoisonMessageError {}
