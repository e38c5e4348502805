// The transport-security rules of the config: a database's sslmode defaults to verify-full off
// this machine (never a silent fall back to plaintext over a network), client certificate and key
// go together, TLS files are not accepted with sslmode=disable, and SASL without TLS to a broker
// that is not loopback is refused unless KAFKA_SASL_ALLOW_PLAINTEXT says so.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';

function problemsOf(env: Record<string, string>): { setting: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

const SOURCE = { SOURCE_DB_NAME: 'app', SOURCE_DB_USER: 'reader', SOURCE_DB_PASSWORD: 'pw' };

describe('database sslmode default', () => {
  it('is prefer on loopback hosts and socket directories, verify-full anywhere else', () => {
    for (const host of ['localhost', '127.0.0.1', '::1', '/var/run/postgresql']) {
      expect(loadConfig({ TARGET_DB_HOST: host }).target.sslMode, host).toBe('prefer');
      expect(
        loadConfig({ ...SOURCE, SOURCE_DB_HOST: host }).source?.sslMode,
        `source ${host}`,
      ).toBe('prefer');
    }
    for (const host of ['db.example', '10.0.0.7', 'target-db']) {
      expect(
        loadConfig({ TARGET_DB_HOST: host, TARGET_DB_PASSWORD: 'pw' }).target.sslMode,
        host,
      ).toBe('verify-full');
      expect(loadConfig({ ...SOURCE, SOURCE_DB_HOST: host }).source?.sslMode).toBe('verify-full');
    }
  });

  it('keeps an explicit sslmode, including a weaker one', () => {
    const config = loadConfig({
      TARGET_DB_HOST: 'db.example',
      TARGET_DB_PASSWORD: 'pw',
      TARGET_DB_SSLMODE: 'disable',
    });
    expect(config.target.sslMode).toBe('disable');
  });
});

describe('database client certificates', () => {
  it('loads a certificate with its key', () => {
    const config = loadConfig({
      TARGET_DB_SSLCERT: '/c.pem',
      TARGET_DB_SSLKEY: '/c.key',
      ...SOURCE,
      SOURCE_DB_HOST: 'localhost',
      SOURCE_DB_SSLCERT: '/s.pem',
      SOURCE_DB_SSLKEY: '/s.key',
    });
    expect(config.target).toMatchObject({ sslCert: '/c.pem', sslKey: '/c.key' });
    expect(config.source).toMatchObject({ sslCert: '/s.pem', sslKey: '/s.key' });
  });

  it('refuses a certificate without its key and a key without its certificate', () => {
    expect(problemsOf({ TARGET_DB_SSLCERT: '/c.pem' })).toEqual([
      {
        setting: 'TARGET_DB_SSLKEY',
        message:
          'not set; required for a client certificate (TARGET_DB_SSLCERT and TARGET_DB_SSLKEY go together)',
      },
    ]);
    expect(
      problemsOf({ ...SOURCE, SOURCE_DB_HOST: 'localhost', SOURCE_DB_SSLKEY: '/s.key' }).map(
        (p) => p.setting,
      ),
    ).toEqual(['SOURCE_DB_SSLCERT']);
  });

  it('refuses TLS files that sslmode=disable would silently ignore', () => {
    expect(problemsOf({ TARGET_DB_SSLMODE: 'disable', TARGET_DB_SSLROOTCERT: '/ca.pem' })).toEqual([
      {
        setting: 'TARGET_DB_SSLROOTCERT',
        message: 'set, but TARGET_DB_SSLMODE is disable; set a TLS sslmode (verify-full)',
      },
    ]);
  });
});

describe('Kafka SASL without TLS', () => {
  const SASL = {
    KAFKA_SASL_USERNAME: 'pgferry',
    KAFKA_SASL_PASSWORD: 'kafka-secret-pw',
  };

  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
    it(`refuses ${mechanism} over plaintext to a broker that is not loopback`, () => {
      const problems = problemsOf({
        ...SASL,
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_BOOTSTRAP: '127.0.0.1:9092,kafka.example:9092',
      });
      expect(problems).toEqual([
        {
          setting: 'KAFKA_SASL_MECHANISM',
          message:
            'SASL without TLS to kafka.example:9092 (not loopback) is refused: the credentials and data would cross the network in clear; set KAFKA_SSL=true (with KAFKA_SSL_CA_FILE), or KAFKA_SASL_ALLOW_PLAINTEXT=true to accept it',
        },
      ]);
      expect(JSON.stringify(problems)).not.toContain(SASL.KAFKA_SASL_PASSWORD);
    });
  }

  it('accepts SASL over TLS, on loopback, or when explicitly allowed', () => {
    const remote = {
      ...SASL,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_BOOTSTRAP: 'kafka.example:9092',
    };
    expect(loadConfig({ ...remote, KAFKA_SSL: 'true' }).kafka.sasl?.mechanism).toBe('plain');
    expect(
      loadConfig({ ...remote, KAFKA_SASL_ALLOW_PLAINTEXT: 'true' }).kafka.saslAllowPlaintext,
    ).toBe(true);
    expect(
      loadConfig({ ...remote, KAFKA_BOOTSTRAP: 'localhost:9092,[::1]:9093' }).kafka.sasl?.username,
    ).toBe('pgferry');
  });

  it('does not mind plaintext without SASL', () => {
    expect(loadConfig({ KAFKA_BOOTSTRAP: 'kafka.example:9092' }).kafka.ssl.enabled).toBe(false);
  });
});
