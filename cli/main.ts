// Process entry point of the `pgferry` command: the one place that passes process.env in.
import { pino } from 'pino';
import { findSecretValues } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createSecretMask } from '../core/secret-mask.js';
import { maskDestination } from './masked-io.js';
import { installProcessFaultHandlers } from './process-fault-handler.js';
import { runCli } from './run-cli.js';

// Before anything runs: an error that escapes every handler ends the process as one JSON line on
// stderr and exit 1. Synchronous, so the line is written before the exit.
const faultLog = maskDestination(
  pino.destination({ dest: 2, sync: true }),
  createSecretMask(findSecretValues(process.env)),
);
installProcessFaultHandlers(createLogger('info', faultLog));

const code = await runCli(process.argv.slice(2), process.env);
process.exitCode = code;
// Every command has finished its work (`run` has stopped cleanly) when runCli returns. A client
// library's socket left open (kafkajs after a join it abandoned) must not keep the process alive;
// unref: a process that ends by itself is not held up by this timer.
setTimeout(() => process.exit(code), 3_000).unref();
