// TLS for pgferry's HTTP clients (schema registry, Kafka Connect REST): a CA to verify the server
// and an optional client certificate, from PEM files. Node's fetch takes them only through an
// undici dispatcher; the registry client (mappersmith over node:https) through an https.Agent.
// Both verify the server (CA and host name) always: there is no "insecure" switch.
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { type Dispatcher, Agent as UndiciAgent } from 'undici';

export interface HttpTlsFiles {
  /** CA bundle to verify the server; unset = the system CAs. */
  caFile?: string | undefined;
  /** Client certificate and key for mutual TLS (both or neither). */
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

/** The files' contents, or undefined when none is set (the defaults then apply). */
function readTlsMaterial(files: HttpTlsFiles | undefined): TlsMaterial | undefined {
  if (!files || (!files.caFile && !files.certFile && !files.keyFile)) return undefined;
  return {
    ...(files.caFile ? { ca: readFileSync(files.caFile, 'utf8') } : {}),
    ...(files.certFile ? { cert: readFileSync(files.certFile, 'utf8') } : {}),
    ...(files.keyFile ? { key: readFileSync(files.keyFile, 'utf8') } : {}),
  };
}

/** A dispatcher for fetch's `dispatcher` option; undefined = fetch's default (system CAs). */
export function createFetchDispatcher(files: HttpTlsFiles | undefined): Dispatcher | undefined {
  const material = readTlsMaterial(files);
  return material && new UndiciAgent({ connect: { ...material, rejectUnauthorized: true } });
}

/** An agent for node:https clients; undefined for http:// URLs or when no file is set. */
export function createHttpsAgent(
  url: string,
  files: HttpTlsFiles | undefined,
): HttpsAgent | undefined {
  const material = readTlsMaterial(files);
  if (!material || !url.startsWith('https:')) return undefined;
  return new HttpsAgent({ ...material, rejectUnauthorized: true, keepAlive: true });
}
