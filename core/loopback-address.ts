// Whether a host or address stays on this machine: the control endpoint lets pause/resume through
// without a token only there, and the config keeps the local stack's sample password only there.
import { isIP } from 'node:net';

/** 127.0.0.0/8, ::1, and IPv4-mapped loopback; `localhost` only by name (before binding). */
export function isLoopbackAddress(address: string): boolean {
  const host = address.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) !== 6) return false;
  if (host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host)?.[1];
  return mapped?.startsWith('127.') === true;
}
