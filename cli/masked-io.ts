// Everything a command writes (its answer on stdout, messages on stderr, JSON log lines) passes
// through the secret mask built from the env's secret settings: the net under the structural
// protections, for whatever a library or a server echoes back (core/secret-mask.ts).
import type { DestinationStream } from 'pino';
import type { SecretMask } from '../core/secret-mask.js';
import type { CliIo } from '../migrate/command-context.js';

/** `io` with every write masked; the terminal facts pass through unchanged. */
export function maskCliIo(io: CliIo, mask: SecretMask): CliIo {
  return {
    ...io,
    stdout: (text) => io.stdout(mask(text)),
    stderr: (text) => io.stderr(mask(text)),
    logDestination: maskDestination(io.logDestination, mask),
  };
}

/** A log destination that masks each line before `destination` gets it. */
export function maskDestination(
  destination: DestinationStream,
  mask: SecretMask,
): DestinationStream {
  return { write: (line: string) => destination.write(mask(line)) };
}
