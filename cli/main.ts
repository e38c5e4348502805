// Process entry point of the `pgferry` command: the one place that passes process.env in.
import { runCli } from './run-cli.js';

process.exitCode = await runCli(process.argv.slice(2), process.env);
