// Process entry point of the `pgferry` command: the one place that passes process.env in.
import { runCli } from './run-cli.js';

const code = await runCli(process.argv.slice(2), process.env);
process.exitCode = code;
// Every command has finished its work (`run` has stopped cleanly) when runCli returns. A client
// library's socket left open (kafkajs after a join it abandoned) must not keep the process alive;
// unref: a process that ends by itself is not held up by this timer.
setTimeout(() => process.exit(code), 3_000).unref();
