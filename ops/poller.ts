// A background poll loop for observability readings: runs `tick` after `firstDelayMs`, then every
// `intervalMs` after the previous tick finished (never overlapping), until the returned stop
// function is called. Timers are unref'd: a poller never keeps the process alive.
export function startPoller(
  tick: () => Promise<void>,
  options: { intervalMs: number; firstDelayMs: number; onStop?: () => void },
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const run = async () => {
    await tick();
    if (!stopped) timer = setTimeout(run, options.intervalMs).unref();
  };
  timer = setTimeout(run, options.firstDelayMs).unref();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    options.onStop?.();
  };
}
