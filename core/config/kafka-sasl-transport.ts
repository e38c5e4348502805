// SASL needs TLS off this machine. SASL/PLAIN sends the password in clear; SCRAM does not, but
// without TLS the session can be taken over and every row travels in clear. So SASL without
// KAFKA_SSL to a broker that is not loopback is refused at start, unless the operator says so
// (KAFKA_SASL_ALLOW_PLAINTEXT=true), e.g. inside a network they trust.
import type { ConfigProblem } from '../errors.js';
import { isLoopbackAddress } from '../loopback-address.js';
import type { RawSettings, SettingEnvName } from './settings-table.js';

export function findKafkaPlaintextSaslProblems(
  raw: RawSettings,
  parsed: Partial<Record<SettingEnvName, unknown>>,
): ConfigProblem[] {
  if (raw.KAFKA_SASL_MECHANISM === undefined || parsed.KAFKA_SSL !== false) return [];
  if (parsed.KAFKA_SASL_ALLOW_PLAINTEXT === true) return [];
  const brokers = Array.isArray(parsed.KAFKA_BOOTSTRAP) ? (parsed.KAFKA_BOOTSTRAP as string[]) : [];
  const remote = brokers.filter((broker) => !isLoopbackAddress(hostOf(broker)));
  if (remote.length === 0) return [];
  return [
    {
      setting: 'KAFKA_SASL_MECHANISM',
      message: `SASL without TLS to ${remote.join(', ')} (not loopback) is refused: the credentials and data would cross the network in clear; set KAFKA_SSL=true (with KAFKA_SSL_CA_FILE), or KAFKA_SASL_ALLOW_PLAINTEXT=true to accept it`,
    },
  ];
}

/** `host:port` or `[v6]:port` -> host. */
function hostOf(broker: string): string {
  return broker.slice(0, broker.lastIndexOf(':')).replace(/^\[|\]$/g, '');
}
