// Who may POST /pause and /resume: the holder of CONTROL_TOKEN (`Authorization: Bearer`, compared
// in constant time) or, when no token is set, anyone who can reach an endpoint bound to loopback
// only. An endpoint bound elsewhere without a token refuses both (403) and keeps serving metrics.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isLoopbackAddress } from '../core/loopback-address.js';

/** How pause/resume are authorized on one endpoint, decided once it is bound. */
export type PauseAccess = 'token' | 'loopback' | 'refused';

export interface ControlRefusal {
  status: 401 | 403;
  message: string;
  headers?: Readonly<Record<string, string>>;
}

/** Decides, from the token (if any) and the address the endpoint actually bound. */
export function choosePauseAccess(token: string | undefined, boundAddress: string): PauseAccess {
  if (token !== undefined) return 'token';
  return isLoopbackAddress(boundAddress) ? 'loopback' : 'refused';
}

/**
 * The check of one request's Authorization header, or why it is refused. The token is hashed on
 * both sides so the constant-time comparison sees equal lengths and leaks not even the length.
 */
export function createPauseAuthorizer(
  access: PauseAccess,
  token: string | undefined,
): (authorization: string | undefined) => ControlRefusal | undefined {
  if (access === 'loopback') return () => undefined;
  if (access === 'refused' || token === undefined) {
    return () => ({
      status: 403,
      message:
        'pause/resume are disabled: this endpoint is not bound to loopback and no CONTROL_TOKEN is set',
    });
  }
  const expected = digestOf(token);
  return (authorization) => {
    const presented = readBearerToken(authorization);
    if (presented !== undefined && timingSafeEqual(digestOf(presented), expected)) return undefined;
    return {
      status: 401,
      message: 'missing or wrong token: send Authorization: Bearer <CONTROL_TOKEN>',
      headers: { 'www-authenticate': 'Bearer realm="pgferry"' },
    };
  };
}

/** The credentials of `Bearer <token>` (scheme case-insensitive, RFC 6750), else undefined. */
export function readBearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
}

function digestOf(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
