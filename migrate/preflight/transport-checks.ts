// Whether each connection preflight makes is encrypted and whose identity was verified: the
// databases from the server's own view (pg_stat_ssl of this session), Kafka, the registry and
// Connect from the settings their clients use (kafkajs and fetch always verify a TLS server, so a
// TLS connection that answered is a verified one). Plaintext is fine on loopback, a WARN elsewhere.
import type pg from 'pg';
import type { KafkaSettings, PostgresSettings } from '../../core/config.js';
import { isLoopbackAddress } from '../../core/loopback-address.js';
import { type CheckVerdict, pass, warn } from './preflight-check.js';

export interface PgSessionTls {
  ssl: boolean;
  /** e.g. TLSv1.3; null without TLS. */
  version: string | null;
}

/** This session's TLS as the server sees it. */
export async function readPgSessionTls(client: pg.Client): Promise<PgSessionTls> {
  const result = await client.query<PgSessionTls>(
    'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
  );
  return result.rows[0] ?? { ssl: false, version: null };
}

export async function checkPgTransport(
  client: pg.Client,
  settings: PostgresSettings,
  prefix: 'SOURCE' | 'TARGET',
): Promise<CheckVerdict> {
  return judgePgTransport(settings, await readPgSessionTls(client), prefix);
}

export function judgePgTransport(
  settings: PostgresSettings,
  session: PgSessionTls,
  prefix: 'SOURCE' | 'TARGET',
): CheckVerdict {
  const mode = `sslmode=${settings.sslMode}`;
  const client = settings.sslCert ? ', client certificate sent' : '';
  if (!session.ssl) {
    if (isLocalHost(settings.host)) {
      return pass(`not encrypted (${mode}); the host is on this machine`);
    }
    return warn(
      `NOT encrypted (${mode}) to ${settings.host}: set ${prefix}_DB_SSLMODE=verify-full and ${prefix}_DB_SSLROOTCERT`,
    );
  }
  const encrypted = `encrypted (${session.version ?? 'TLS'})`;
  if (settings.sslMode === 'verify-full') {
    return pass(`${encrypted}, server verified: CA and host name (${mode})${client}`);
  }
  const caChecked =
    settings.sslMode === 'verify-ca' ||
    (settings.sslMode === 'require' && settings.sslRootCert !== undefined);
  const what = caChecked ? 'CA verified, host name not checked' : 'server NOT verified';
  return warn(
    `${encrypted}, ${what} (${mode})${client}: set ${prefix}_DB_SSLMODE=verify-full to verify the server`,
  );
}

export function judgeKafkaTransport(kafka: KafkaSettings): CheckVerdict {
  const sasl = kafka.sasl ? `, SASL ${kafka.sasl.mechanism}` : '';
  if (kafka.ssl.enabled) {
    const ca = kafka.ssl.caFile ? 'KAFKA_SSL_CA_FILE' : 'the system CAs';
    const client = kafka.ssl.certFile ? ', client certificate sent' : '';
    return pass(`encrypted (TLS), brokers verified against ${ca}${client}${sasl}`);
  }
  const remote = kafka.brokers.filter((broker) => !isLoopbackAddress(brokerHost(broker)));
  if (remote.length === 0) return pass(`not encrypted${sasl}; the brokers are on this machine`);
  return warn(
    `NOT encrypted${sasl} to ${remote.join(', ')}: set KAFKA_SSL=true and KAFKA_SSL_CA_FILE`,
  );
}

/** `url` without credentials; `ca` names the setting that holds its CA and the file, if set. */
export function judgeHttpTransport(
  url: string,
  urlSetting: string,
  ca: { setting: string; file: string | undefined },
): CheckVerdict {
  const parsed = new URL(url);
  if (parsed.protocol === 'https:') {
    const against = ca.file !== undefined ? ca.setting : 'the system CAs';
    return pass(`encrypted (TLS), server verified against ${against}`);
  }
  if (isLoopbackAddress(parsed.hostname))
    return pass('not encrypted; the server is on this machine');
  return warn(`NOT encrypted to ${parsed.host}: use an https:// ${urlSetting}`);
}

function isLocalHost(host: string): boolean {
  return host.startsWith('/') || isLoopbackAddress(host);
}

/** `host:port` or `[v6]:port` -> host. */
function brokerHost(broker: string): string {
  return broker.slice(0, broker.lastIndexOf(':')).replace(/^\[|\]$/g, '');
}
