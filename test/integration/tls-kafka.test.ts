// Kafka over TLS against a broker of the test's own (KRaft, from the stack's jars) with an SSL
// listener and a SASL_SSL listener (SCRAM-SHA-256), certificates made with openssl at test start.
// pgferry's Kafka client (core/kafka-client.ts, from loadConfig's settings) verifies the broker
// against KAFKA_SSL_CA_FILE, authenticates with SCRAM over TLS, and refuses a broker its CA did
// not sign.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { TlsConnectionError } from '../../core/errors.js';
import { createKafka, probeBrokers } from '../../core/kafka-client.js';
import { createLogger } from '../../core/logger.js';
import { findTlsFailure } from '../../core/tls-failure.js';
import { makeTestCertificates, type TestCertificates } from '../support/test-certificates.js';
import { startThrowawayKafka, type ThrowawayKafka } from '../support/throwaway-kafka.js';

const SCRAM_USER = 'pgferry';
const SCRAM_PASSWORD = `scram-${Date.now().toString(36)}-secret`;
const FAIL_FAST = {
  retry: { retries: 0 },
  connectionTimeout: 3_000,
  requestTimeout: 10_000,
};

let certs: TestCertificates;
let broker: ThrowawayKafka;

beforeAll(async () => {
  certs = await makeTestCertificates();
  const keyStore = join(certs.dir, 'kafka-keystore.pem');
  writeFileSync(
    keyStore,
    `${readFileSync(certs.server.key, 'utf8')}${readFileSync(certs.server.cert, 'utf8')}`,
  );
  broker = await startThrowawayKafka({
    keyStorePem: keyStore,
    scramUser: SCRAM_USER,
    scramPassword: SCRAM_PASSWORD,
  });
});

afterAll(async () => {
  await broker?.stop();
  certs?.remove();
});

const silent = createLogger('silent');

describe('Kafka over TLS', () => {
  it('connects to the SSL listener with KAFKA_SSL and the CA', async () => {
    const config = loadConfig({
      KAFKA_BOOTSTRAP: broker.sslBroker,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: certs.caFile,
    });
    const admin = createKafka(config.kafka, silent, FAIL_FAST).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic: 'tls-only', numPartitions: 1 }],
        waitForLeaders: true,
      });
      expect(await admin.listTopics()).toContain('tls-only');
    } finally {
      await admin.disconnect();
    }
  });

  it('authenticates with SCRAM-SHA-256 over TLS, produces and consumes', {
    timeout: 90_000,
  }, async () => {
    const config = loadConfig({
      KAFKA_BOOTSTRAP: broker.saslSslBroker,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: certs.caFile,
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: SCRAM_USER,
      KAFKA_SASL_PASSWORD: SCRAM_PASSWORD,
    });
    // pgferry's own retry settings: the first group join waits for __consumer_offsets.
    const kafka = createKafka(config.kafka, silent);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: 'scram-tls', numPartitions: 1 }],
      waitForLeaders: true,
    });
    expect(await admin.listTopics()).toContain('scram-tls');
    await admin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'scram-tls', messages: [{ key: 'k', value: 'over TLS' }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'tls-test' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'scram-tls', fromBeginning: true });
    const received = new Promise<string>((resolve, reject) => {
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      consumer
        .run({ eachMessage: async ({ message }) => resolve(String(message.value)) })
        .catch(reject);
    });
    try {
      expect(await received).toBe('over TLS');
    } finally {
      await consumer.disconnect();
    }
  });

  it('refuses a wrong SCRAM password without repeating it', async () => {
    const config = loadConfig({
      KAFKA_BOOTSTRAP: broker.saslSslBroker,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: certs.caFile,
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: SCRAM_USER,
      KAFKA_SASL_PASSWORD: 'not-the-password',
    });
    const admin = createKafka(config.kafka, silent, FAIL_FAST).admin();
    const error = await admin.connect().then(
      () => new Error('connected with a wrong password'),
      (e: Error) => e,
    );
    await admin.disconnect();
    expect(error.name).toBe('KafkaJSSASLAuthenticationError');
    expect(error.message).not.toContain('not-the-password');
  });

  it('names the broker and the cause at start when the CA is wrong (the probe of pgferry run)', async () => {
    const config = loadConfig({
      KAFKA_BOOTSTRAP: broker.sslBroker,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: certs.wrongCaFile,
    });
    const error = await probeBrokers(config.kafka.brokers, 3_000, config.kafka.ssl).then(
      () => new Error('the probe verified a broker the CA did not sign'),
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(TlsConnectionError);
    expect((error as TlsConnectionError).retriable).toBe(false);
    expect(error.message).toBe(
      `Kafka ${broker.sslBroker}: TLS failed: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE); check KAFKA_SSL_CA_FILE (the CA that signed the broker certificate)`,
    );
    // The right CA: the probe completes the handshake.
    await probeBrokers(
      config.kafka.brokers,
      3_000,
      loadConfig({
        KAFKA_BOOTSTRAP: broker.sslBroker,
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: certs.caFile,
      }).kafka.ssl,
    );
  });

  it('refuses a broker whose certificate the CA did not sign', async () => {
    const config = loadConfig({
      KAFKA_BOOTSTRAP: broker.sslBroker,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: certs.wrongCaFile,
    });
    const admin = createKafka(config.kafka, silent, FAIL_FAST).admin();
    const error = await admin.connect().then(
      () => new Error('connected to a broker the CA did not sign'),
      (e: Error) => e,
    );
    await admin.disconnect();
    // The broker sends its certificate without the chain: OpenSSL finds no issuer it trusts.
    expect(findTlsFailure(error)).toMatchObject({
      code: expect.stringMatching(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)$/),
      fix: 'ca',
    });
  });
});
