// What a failed TLS handshake means, read from Node's error codes (OpenSSL's verify results and
// Node's ERR_TLS_*/ERR_SSL_*), never from message text: fetch (undici), kafkajs and node-postgres
// each wrap the socket's error differently, so the whole cause chain is searched.

/** The TLS reason of a failure, or undefined when the failure is not about TLS. */
export interface TlsFailure {
  code: string;
  /** One line, e.g. "self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)". */
  reason: string;
  /** Which setting most likely fixes it: the CA, the host name, or the client certificate. */
  fix: 'ca' | 'host-name' | 'client-certificate' | 'protocol';
}

/** OpenSSL's certificate verification results as Node reports them (X509_V_ERR_* names). */
const VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);

const HOST_NAME_CODES = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);

/** Alerts a server sends when it wanted a (valid) client certificate. */
const CLIENT_CERTIFICATE_CODES = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
]);

/** Finds the TLS reason anywhere in `error`'s cause chain (and an AggregateError's errors). */
export function findTlsFailure(error: unknown, depth = 0): TlsFailure | undefined {
  if (depth > 8 || typeof error !== 'object' || error === null) return undefined;
  const { code, message, cause } = error as { code?: unknown; message?: unknown; cause?: unknown };
  if (typeof code === 'string') {
    const fix = classifyTlsCode(code);
    if (fix !== undefined) {
      const text = typeof message === 'string' ? firstLine(message) : code;
      return { code, reason: `${text} (${code})`, fix };
    }
  }
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const found = findTlsFailure(inner, depth + 1);
      if (found) return found;
    }
  }
  return findTlsFailure(cause, depth + 1);
}

function classifyTlsCode(code: string): TlsFailure['fix'] | undefined {
  if (VERIFY_CODES.has(code)) return 'ca';
  if (HOST_NAME_CODES.has(code)) return 'host-name';
  if (CLIENT_CERTIFICATE_CODES.has(code)) return 'client-certificate';
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'protocol';
  return undefined;
}

const firstLine = (text: string): string => text.split('\n')[0]?.trim() ?? text;
