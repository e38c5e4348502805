// The pgferry part of `pgferry status`: each running process's state and pause flags from its
// control endpoint; an endpoint that does not answer is reported, not thrown.
import { ControlClient } from '../../core/control-client.js';
import type { PgferryInstancePart } from './migration-status-types.js';

export async function readPgferryInstance(
  url: string,
  signal?: AbortSignal,
): Promise<PgferryInstancePart> {
  const client = new ControlClient({ baseUrl: url, requestTimeoutMs: 5_000 });
  // The report shows the client's URL: a user:password@ in --control-url is not printed.
  const shownUrl = client.baseUrl;
  try {
    const health = await client.health(signal);
    return {
      url: shownUrl,
      state: health.state,
      paused: health.paused,
      pausing: health.pausing ?? false,
    };
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    return {
      url: shownUrl,
      state: 'unreachable',
      paused: false,
      pausing: false,
      error: (error as Error).message,
    };
  }
}
