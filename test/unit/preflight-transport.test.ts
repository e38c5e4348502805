// preflight's per-connection encryption verdicts: verified TLS passes, TLS without verification
// warns, plaintext passes on this machine and warns across a network.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import {
  judgeHttpTransport,
  judgeKafkaTransport,
  judgePgTransport,
} from '../../migrate/preflight/transport-checks.js';

const remoteTarget = (env: Record<string, string>) =>
  loadConfig({ TARGET_DB_HOST: 'db.example', TARGET_DB_PASSWORD: 'pw', ...env }).target;
const TLS13 = { ssl: true, version: 'TLSv1.3' };
const PLAIN = { ssl: false, version: null };

describe('judgePgTransport', () => {
  it('passes verify-full over TLS, and says a client certificate was sent', () => {
    const settings = remoteTarget({ TARGET_DB_SSLCERT: '/c.pem', TARGET_DB_SSLKEY: '/c.key' });
    expect(judgePgTransport(settings, TLS13, 'TARGET')).toEqual({
      status: 'pass',
      message:
        'encrypted (TLSv1.3), server verified: CA and host name (sslmode=verify-full), client certificate sent',
    });
  });

  it('warns when TLS does not verify the server, or only its CA', () => {
    expect(
      judgePgTransport(remoteTarget({ TARGET_DB_SSLMODE: 'require' }), TLS13, 'TARGET'),
    ).toEqual({
      status: 'warn',
      message:
        'encrypted (TLSv1.3), server NOT verified (sslmode=require): set TARGET_DB_SSLMODE=verify-full to verify the server',
    });
    expect(
      judgePgTransport(remoteTarget({ TARGET_DB_SSLMODE: 'verify-ca' }), TLS13, 'TARGET').message,
    ).toMatch(/^encrypted \(TLSv1\.3\), CA verified, host name not checked/);
  });

  it('passes plaintext on this machine, warns across a network', () => {
    expect(judgePgTransport(loadConfig({}).target, PLAIN, 'TARGET')).toEqual({
      status: 'pass',
      message: 'not encrypted (sslmode=prefer); the host is on this machine',
    });
    expect(
      judgePgTransport(remoteTarget({ TARGET_DB_SSLMODE: 'disable' }), PLAIN, 'TARGET'),
    ).toEqual({
      status: 'warn',
      message:
        'NOT encrypted (sslmode=disable) to db.example: set TARGET_DB_SSLMODE=verify-full and TARGET_DB_SSLROOTCERT',
    });
  });
});

describe('judgeKafkaTransport', () => {
  it('passes TLS, naming what verifies the brokers and the SASL mechanism', () => {
    const kafka = loadConfig({
      KAFKA_BOOTSTRAP: 'k.example:9093',
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: '/ca.pem',
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    }).kafka;
    expect(judgeKafkaTransport(kafka)).toEqual({
      status: 'pass',
      message: 'encrypted (TLS), brokers verified against KAFKA_SSL_CA_FILE, SASL scram-sha-256',
    });
  });

  it('passes plaintext to loopback brokers, warns for others', () => {
    expect(
      judgeKafkaTransport(loadConfig({ KAFKA_BOOTSTRAP: '127.0.0.1:9092' }).kafka).status,
    ).toBe('pass');
    expect(judgeKafkaTransport(loadConfig({ KAFKA_BOOTSTRAP: 'k.example:9092' }).kafka)).toEqual({
      status: 'warn',
      message: 'NOT encrypted to k.example:9092: set KAFKA_SSL=true and KAFKA_SSL_CA_FILE',
    });
  });
});

describe('judgeHttpTransport', () => {
  const ca = { setting: 'CONNECT_CA_FILE', file: '/ca.pem' };
  it('passes https (with the CA setting or the system CAs), plaintext only on loopback', () => {
    expect(judgeHttpTransport('https://connect.example', 'CONNECT_URL', ca).message).toBe(
      'encrypted (TLS), server verified against CONNECT_CA_FILE',
    );
    expect(
      judgeHttpTransport('https://connect.example', 'CONNECT_URL', { ...ca, file: undefined })
        .message,
    ).toBe('encrypted (TLS), server verified against the system CAs');
    expect(judgeHttpTransport('http://localhost:8083', 'CONNECT_URL', ca).status).toBe('pass');
    expect(judgeHttpTransport('http://connect.example:8083', 'CONNECT_URL', ca)).toEqual({
      status: 'warn',
      message: 'NOT encrypted to connect.example:8083: use an https:// CONNECT_URL',
    });
  });
});
