// A Kafka broker of a test's own (KRaft, one node) from the jars the local stack downloaded
// (.stack/java/kafka-libs), for listeners the shared stack must not have: SSL and SASL_SSL with
// SCRAM-SHA-256 (the user created at storage format, --add-scram). PEM key store and trust store,
// so the test CA's files are used as they are. Runs in its own process group; stop() ends it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './pgferry-process.js';
import { repoPath } from './stack-env.js';

const run = promisify(execFile);

export interface ThrowawayKafka {
  /** 127.0.0.1:port of the SSL listener (TLS, no SASL). */
  sslBroker: string;
  /** 127.0.0.1:port of the SASL_SSL listener (TLS + SCRAM-SHA-256). */
  saslSslBroker: string;
  /** 127.0.0.1:port of a PLAINTEXT listener (the broker's own; tests need not use it). */
  plaintextBroker: string;
  stop(): Promise<void>;
}

export interface ThrowawayKafkaOptions {
  /** PEM file: the broker's private key followed by its certificate. */
  keyStorePem: string;
  scramUser: string;
  scramPassword: string;
}

function javaCommand(...args: string[]): string[] {
  return [
    '-Xms64m',
    '-Xmx384m',
    `-Dlog4j2.configurationFile=${repoPath('stack/config/log4j2.properties')}`,
    '-cp',
    `${repoPath('.stack/java/kafka-libs')}/*`,
    ...args,
  ];
}

/**
 * Kafka's Uuid text form: 16 random bytes, base64url without padding, never starting with "-"
 * (the storage tool would read such an id as an option: 1 run in 64 failed so; Kafka's own
 * random-uuid draws again in that case too).
 */
function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export async function startThrowawayKafka(options: ThrowawayKafkaOptions): Promise<ThrowawayKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'pgferry-kafka-'));
  const [ssl, saslSsl, plaintext, controller] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const properties = join(dir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.bootstrap.servers=127.0.0.1:${controller}`,
      `listeners=SSL://127.0.0.1:${ssl},SASL_SSL://127.0.0.1:${saslSsl},PLAINTEXT://127.0.0.1:${plaintext},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=SSL://127.0.0.1:${ssl},SASL_SSL://127.0.0.1:${saslSsl},PLAINTEXT://127.0.0.1:${plaintext}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=SSL:SSL,SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'sasl.enabled.mechanisms=SCRAM-SHA-256',
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${options.keyStorePem}`,
      'ssl.client.auth=none',
      `log.dirs=${join(dir, 'data')}`,
      'num.partitions=1',
      'auto.create.topics.enable=true',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'kafka.log');
  await run(
    'java',
    javaCommand(
      'kafka.tools.StorageTool',
      'format',
      '--standalone',
      '-t',
      randomClusterId(),
      '-c',
      properties,
      '--add-scram',
      `SCRAM-SHA-256=[name=${options.scramUser},password=${options.scramPassword}]`,
    ),
  );
  writeFileSync(logFile, '');
  const log = createWriteStream(logFile, { flags: 'a' });
  // detached: a process group of its own, so stop() ends the JVM and nothing else.
  const child: ChildProcess = spawn('java', javaCommand('kafka.Kafka', properties), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
      }, 15_000);
      await exited;
      clearTimeout(timer);
    }
    log.end();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForStart(logFile, exited, 90_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    sslBroker: `127.0.0.1:${ssl}`,
    saslSslBroker: `127.0.0.1:${saslSsl}`,
    plaintextBroker: `127.0.0.1:${plaintext}`,
    stop,
  };
}

/** The broker logs "Kafka Server started" once it has registered with its controller. */
async function waitForStart(logFile: string, exited: Promise<void>, ms: number): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const text = readFileSync(logFile, 'utf8');
    if (text.includes('Kafka Server started')) return;
    if (gone) throw new Error(`throwaway Kafka exited during start:\n${text.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`throwaway Kafka did not start within ${ms} ms`);
}
