// A processor whose work is pure (no I/O) can only fail because of the record it was given: an
// error it did not type (a RangeError or TypeError from a codec handed a value it did not expect)
// belongs to that record. This wrapper makes such errors poison, so the record is dead-lettered
// with the cause instead of stopping its topic; typed errors keep their own decision (retriable,
// poison, an incompatible schema that stops the table). Never wrap a processor that does I/O:
// there an untyped error may be an outage, which must be retried, not dead-lettered.
import { PgferryError, PoisonMessageError } from '../../core/errors.js';
import type { Processor } from './processor.js';

/** The error a failure of one record is reported with. */
export function toRecordError(error: unknown, what: string): PgferryError {
  if (error instanceof PgferryError) return error;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new PoisonMessageError(`${what}: ${reason}`, { cause: error });
}

/** `processor`, with the untyped errors of `process` reported as `what: <error>` poison. */
export function poisonUntypedErrors<I, O>(
  what: string,
  processor: Processor<I, O>,
): Processor<I, O> {
  const process = processor.process.bind(processor);
  return {
    ...processor,
    process(record, ctx) {
      try {
        const produced = process(record, ctx);
        return produced instanceof Promise
          ? produced.catch((error: unknown) => {
              throw toRecordError(error, what);
            })
          : produced;
      } catch (error) {
        throw toRecordError(error, what);
      }
    },
  };
}
