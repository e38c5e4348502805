// Static tests of docker-compose.yml (no Docker engine here): Compose Specification schema, dclint,
// and the properties that keep it the same stack as the native one (stack/, connect-config/).
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { DCLinter } from 'dclint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { describeConfig, loadConfig, readControlToken } from '../../core/config.js';
import { choosePauseAccess } from '../../ops/control-auth.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const CONNECTOR_FILE = 'connect-config/debezium-source.json';
const REVERSE_CONNECTOR_FILE = 'connect-config/debezium-reverse.json';

// --- the compose model (only the fields this file uses) ---

interface BuildSpec {
  context?: string;
  dockerfile?: string;
  additional_contexts?: Record<string, string>;
  args?: Record<string, string>;
}

interface ComposeService {
  image?: string;
  build?: string | BuildSpec;
  depends_on?: string[] | Record<string, { condition: string }>;
  volumes?: (string | { type: string; source?: string; target: string; read_only?: boolean })[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number)[];
  command?: string | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  restart?: string;
}

interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

interface Mount {
  type: 'bind' | 'volume';
  source: string;
  target: string;
  readOnly: boolean;
}

interface PublishedPort {
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

/** A `${NAME:-default}` (or `${NAME-default}`) reference found in the compose file. */
interface VariableReference {
  name: string;
  default: string | undefined;
}

const VARIABLE =
  /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * Compose's interpolation of one value with `env` (an empty env = the file's own defaults).
 * Throws on a variable that is neither set nor defaulted: `docker compose up` must work without
 * a .env file.
 */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    VARIABLE,
    (match, braced: string | undefined, op: string | undefined, arg = '', bare?: string) => {
      if (match === '$$') return '$';
      const name = braced ?? bare ?? '';
      const set = env[name];
      const usable = op?.startsWith(':') ? set !== undefined && set !== '' : set !== undefined;
      if (op === ':-' || op === '-') return usable ? (set ?? '') : arg;
      if (op === ':+' || op === '+') return usable ? arg : '';
      if (usable) return set ?? '';
      throw new Error(`compose variable ${name} has no default (${match})`);
    },
  );
}

function interpolateTree(node: unknown, env: Record<string, string>): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((item) => interpolateTree(item, env));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, interpolateTree(value, env)]),
    );
  }
  return node;
}

function collectVariables(node: unknown, found: VariableReference[] = []): VariableReference[] {
  if (typeof node === 'string') {
    for (const m of node.matchAll(VARIABLE)) {
      const name = m[1] ?? m[4];
      if (name !== undefined) found.push({ name, default: m[2]?.endsWith('-') ? m[3] : undefined });
    }
  } else if (Array.isArray(node)) {
    for (const item of node) collectVariables(item, found);
  } else if (node !== null && typeof node === 'object') {
    for (const value of Object.values(node)) collectVariables(value, found);
  }
  return found;
}

function readRepoFile(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const at = entry.indexOf('=');
        return at < 0 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => [key, value === null ? '' : String(value)]),
  );
}

function mountsOf(service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume !== 'string') {
      return {
        type: volume.type === 'bind' ? 'bind' : 'volume',
        source: volume.source ?? '',
        target: volume.target,
        readOnly: volume.read_only === true,
      };
    }
    const [source = '', target = '', mode = ''] = volume.split(':');
    const isPath = source.startsWith('.') || source.startsWith('/');
    return {
      type: isPath ? 'bind' : 'volume',
      source,
      target,
      readOnly: mode.split(',').includes('ro'),
    };
  });
}

function portsOf(service: ComposeService): PublishedPort[] {
  return (service.ports ?? []).map((port) => {
    const parts = String(port).split(':');
    if (parts.length !== 3)
      throw new Error(`port "${port}" is not host_ip:host_port:container_port`);
    const [hostIp = '', hostPort = '', containerPort = ''] = parts;
    return { hostIp, hostPort: Number(hostPort), containerPort: Number(containerPort) };
  });
}

function dependenciesOf(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, dep]) => [name, dep.condition]));
}

function buildOf(service: ComposeService): BuildSpec | undefined {
  if (service.build === undefined) return undefined;
  return typeof service.build === 'string' ? { context: service.build } : service.build;
}

function dockerfileOf(service: ComposeService): string | undefined {
  const build = buildOf(service);
  if (build === undefined) return undefined;
  return join(ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile');
}

/** The health check a service runs: its own, else the HEALTHCHECK of the image it builds. */
function hasHealthcheck(service: ComposeService): boolean {
  if (service.healthcheck?.disable === true) return false;
  if (service.healthcheck?.test !== undefined) return true;
  const dockerfile = dockerfileOf(service);
  if (dockerfile === undefined || !existsSync(dockerfile)) return false;
  const finalStage =
    readFileSync(dockerfile, 'utf8')
      .split(/^FROM\s/im)
      .at(-1) ?? '';
  return /^HEALTHCHECK\s+(?!NONE\b)/im.test(finalStage);
}

function isOneShot(service: ComposeService): boolean {
  return service.restart === 'no' && (service.ports ?? []).length === 0;
}

/** `name: default` of the `NAME=${NAME:-default}` lines of stack/defaults.env. */
function readNativeDefaults(): Map<string, string> {
  const defaults = new Map<string, string>();
  for (const line of readRepoFile('stack/defaults.env').split('\n')) {
    const m = /^([A-Z0-9_]+)=\$\{\1:-(.*)\}\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) defaults.set(m[1], m[2]);
  }
  return defaults;
}

function imageTag(image: string): string | undefined {
  const lastSegment = image.split('/').at(-1) ?? '';
  const at = lastSegment.indexOf(':');
  return at < 0 ? undefined : lastSegment.slice(at + 1).split('@')[0];
}

/** What dclint reports per file (its bundled .d.ts files do not resolve under NodeNext). */
interface LintResult {
  messages: { rule: string; line: number; message: string }[];
}

function lintCompose(file: string, rules: Record<string, unknown>): LintResult[] {
  const config = { rules, quiet: true, debug: false, exclude: [] };
  const linter = new DCLinter(config as ConstructorParameters<typeof DCLinter>[0]);
  return linter.lintFiles([file], false) as LintResult[];
}

// dclint's rules that decide correctness or safety are errors; of its style rules we follow the
// key and dependency order, not the alphabetical service order (the file reads in data-flow order).
// dclint enables every rule the config does not name, so each one is named here.
const DCLINT_RULES = {
  'services-alphabetical-order': 0,
  'service-container-name-regex': 2,
  'service-ports-alphabetical-order': 2,
  'no-build-and-image': 2,
  'no-duplicate-container-names': 2,
  'no-duplicate-exported-ports': 2,
  'no-quotes-in-volumes': 2,
  'no-unbound-port-interfaces': 2,
  'no-version-field': 2,
  'require-project-name-field': 2,
  'require-quotes-in-ports': [2, { quoteType: 'double' }],
  'service-image-require-explicit-tag': 2,
  'service-keys-order': 2,
  'service-dependencies-alphabetical-order': 2,
  'top-level-properties-order': 2,
};

function loadComposeSchema(): object {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('dclint/package.json'));
  const schema = JSON.parse(
    readFileSync(join(packageDir, 'schemas', 'compose.schema.json'), 'utf8'),
  ) as Record<string, unknown>;
  // Ajv knows draft-07 by its canonical id only; the schema's own `$schema` spelling differs.
  delete schema.$schema;
  return schema;
}

function validateComposeSchema(document: unknown): string[] {
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
  const validate = ajv.compile(loadComposeSchema());
  if (validate(document)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

const source = readFileSync(COMPOSE_FILE, 'utf8');
const raw = parse(source) as ComposeFile;
const compose = interpolateTree(raw, {}) as ComposeFile;
const services = compose.services;

function service(name: string): ComposeService {
  const found = services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** An image tag that one of the services builds (so it is never pulled). */
function isBuiltByAnotherService(image: string): boolean {
  return Object.values(services).some((s) => s.image === image && s.build !== undefined);
}

/** The service that runs pgferry itself: the one built from the root Dockerfile. */
function pgferryServiceName(): string {
  const names = Object.entries(services)
    .filter(([, s]) => dockerfileOf(s) === join(ROOT, 'Dockerfile'))
    .map(([name]) => name);
  expect(names, 'exactly one service builds the root Dockerfile').toHaveLength(1);
  return names[0] ?? '';
}

describe('docker-compose.yml: structure', () => {
  it('parses as YAML and satisfies the Compose Specification JSON schema', () => {
    expect(parseDocument(source).errors).toEqual([]);
    expect(validateComposeSchema(raw)).toEqual([]);
    expect(validateComposeSchema(compose)).toEqual([]);
  });

  it('has a schema check that rejects what Compose rejects', () => {
    const broken = structuredClone(compose) as unknown as {
      services: Record<string, Record<string, unknown>>;
    };
    const pgferry = broken.services[pgferryServiceName()] ?? {};
    pgferry.depends_on = { kafka: { condition: 'service_ready' } };
    pgferry.helthcheck = { test: ['CMD', 'true'] };
    const errors = validateComposeSchema(broken);
    expect(errors.join('\n')).toMatch(/depends_on/);
    expect(errors.join('\n')).toMatch(/additional properties/);
  });

  it('passes dclint (schema, explicit tags, bound and unique ports, key order)', () => {
    const [result] = lintCompose(COMPOSE_FILE, DCLINT_RULES);
    const messages = (result?.messages ?? []).map((m) => `${m.line}: ${m.rule}: ${m.message}`);
    expect(messages).toEqual([]);
  });

  it('has a dclint set-up that catches an untagged image and a duplicate port', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgferry-compose-'));
    const file = join(dir, 'docker-compose.yml');
    writeFileSync(
      file,
      [
        'name: broken',
        'services:',
        '  a:',
        '    image: postgres',
        '    ports:',
        '      - "127.0.0.1:5432:5432"',
        '  b:',
        '    image: postgres:16',
        '    ports:',
        '      - "127.0.0.1:5432:5432"',
        '',
      ].join('\n'),
    );
    const rules = (lintCompose(file, DCLINT_RULES)[0]?.messages ?? []).map((m) => m.rule);
    rmSync(dir, { recursive: true, force: true });
    expect(rules).toContain('service-image-require-explicit-tag');
    expect(rules).toContain('no-duplicate-exported-ports');
  });

  it('gives every service an image or a build, with pinned image tags', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image !== undefined || s.build !== undefined, `${name}: image or build`).toBe(true);
      if (s.image === undefined) continue;
      const tag = imageTag(s.image);
      expect(tag, `${name}: ${s.image} has a tag`).toBeDefined();
      expect(['latest', 'stable', 'edge', 'nightly'], `${name}: ${s.image}`).not.toContain(tag);
      if (buildOf(s) === undefined && !isBuiltByAnotherService(s.image)) {
        // Pulled images carry a version number, at least the major one.
        expect(tag, `${name}: ${s.image} is pinned to a version`).toMatch(/\d/);
      }
    }
  });

  it('gives every variable a local default, the same as the native stack where both have it', () => {
    const native = readNativeDefaults();
    const references = collectVariables(raw);
    expect(references.length).toBeGreaterThan(10);
    for (const ref of references) {
      expect(ref.default, `\${${ref.name}} needs a default`).toBeDefined();
      const nativeDefault = native.get(ref.name);
      if (nativeDefault !== undefined) {
        expect(ref.default, `${ref.name}: default as in stack/defaults.env`).toBe(nativeDefault);
      }
    }
    // The native stack's names are reused rather than invented anew.
    const used = new Set(references.map((r) => r.name));
    for (const name of ['PGFERRY_SOURCE_PG_PORT', 'PGFERRY_DEBEZIUM_PASSWORD', 'PGFERRY_SLOT']) {
      expect(used).toContain(name);
    }
  });

  it('makes every depends_on target exist and be healthy-checked, or a one-shot', () => {
    let edges = 0;
    for (const [name, s] of Object.entries(services)) {
      for (const [target, condition] of Object.entries(dependenciesOf(s))) {
        edges += 1;
        const dependency = services[target];
        expect(dependency, `${name} depends on unknown service ${target}`).toBeDefined();
        if (dependency === undefined) continue;
        if (condition === 'service_completed_successfully') {
          expect(isOneShot(dependency), `${target} is a one-shot (restart: "no")`).toBe(true);
        } else {
          expect(condition, `${name} -> ${target}`).toBe('service_healthy');
          expect(hasHealthcheck(dependency), `${target} has a health check`).toBe(true);
        }
      }
    }
    expect(edges).toBeGreaterThan(5);
  });

  it('gives every long-running service a health check', () => {
    for (const [name, s] of Object.entries(services)) {
      if (isOneShot(s)) continue;
      expect(hasHealthcheck(s), `${name} has a health check`).toBe(true);
    }
  });

  it('mounts and builds only from paths that exist in the repo, and declares its named volumes', () => {
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    const usedVolumes = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      for (const mount of mountsOf(s)) {
        if (mount.type === 'volume') {
          expect(declared, `${name}: volume ${mount.source} is declared`).toContain(mount.source);
          usedVolumes.add(mount.source);
          continue;
        }
        expect(mount.source.startsWith('./'), `${name}: ${mount.source} is repo-relative`).toBe(
          true,
        );
        expect(existsSync(join(ROOT, mount.source)), `${name}: ${mount.source} exists`).toBe(true);
        expect(mount.readOnly, `${name}: ${mount.source} is mounted read-only`).toBe(true);
      }
      const build = buildOf(s);
      if (build === undefined) continue;
      expect(existsSync(join(ROOT, build.context ?? '.')), `${name}: build context`).toBe(true);
      expect(existsSync(dockerfileOf(s) ?? ''), `${name}: Dockerfile`).toBe(true);
      for (const context of Object.values(build.additional_contexts ?? {})) {
        expect(existsSync(join(ROOT, context)), `${name}: context ${context}`).toBe(true);
      }
    }
    expect([...declared].sort()).toEqual([...usedVolumes].sort());
  });

  it('publishes the native stack ports on 127.0.0.1, without collisions', () => {
    const native = readNativeDefaults();
    const published = Object.entries(services).flatMap(([name, s]) =>
      portsOf(s).map((p) => ({ name, ...p })),
    );
    for (const p of published) {
      expect(p.hostIp, `${p.name}: bound to loopback`).toBe('127.0.0.1');
      expect(Number.isInteger(p.hostPort) && p.hostPort > 0, `${p.name}: host port`).toBe(true);
      expect(Number.isInteger(p.containerPort), `${p.name}: container port`).toBe(true);
    }
    const hostPorts = published.map((p) => p.hostPort);
    expect(new Set(hostPorts).size, `host ports ${hostPorts.join(', ')}`).toBe(hostPorts.length);
    const expected: Record<string, string[]> = {
      'source-db': ['PGFERRY_SOURCE_PG_PORT'],
      'target-db': ['PGFERRY_TARGET_PG_PORT'],
      kafka: ['PGFERRY_KAFKA_PORT'],
      registry: ['PGFERRY_REGISTRY_PORT'],
      connect: ['PGFERRY_CONNECT_PORT'],
      prometheus: ['PGFERRY_PROMETHEUS_PORT'],
      // `pgferry run`'s port, and `pgferry copy`'s while a copy runs in that container.
      [pgferryServiceName()]: ['PGFERRY_METRICS_PORT', 'PGFERRY_COPY_METRICS_PORT'],
    };
    for (const [name, variables] of Object.entries(expected)) {
      const ports = portsOf(service(name)).map((p) => p.hostPort);
      const wanted = variables.map((v) => Number(native.get(v)));
      expect(wanted.every(Number.isInteger), `${variables.join(', ')} in stack/defaults.env`).toBe(
        true,
      );
      expect([...ports].sort(), `${name} publishes ${variables.join(', ')}`).toEqual(
        [...wanted].sort(),
      );
    }
    expect(portsOf(service('grafana')).map((p) => p.hostPort)).toEqual([3000]);
  });
});

describe('docker-compose.yml: the connector', () => {
  const connector = JSON.parse(readRepoFile(CONNECTOR_FILE)) as { config: Record<string, string> };
  // The rollback plan's reverse connector: the forward file with these keys on top.
  const reverseConnector = JSON.parse(readRepoFile(REVERSE_CONNECTOR_FILE)) as {
    config: Record<string, string>;
  };
  const placeholders = [
    ...new Set(
      [...Object.values(connector.config), ...Object.values(reverseConnector.config)].flatMap((v) =>
        [...v.matchAll(/\$\{env:([A-Za-z0-9_]+)\}/g)].map((m) => m[1] ?? ''),
      ),
    ),
  ].sort();

  /** The one-shot that registers the connector, and where it sees the file. */
  function findRegistration(): { name: string; mount: Mount } {
    const found = Object.entries(services).flatMap(([name, s]) =>
      mountsOf(s)
        .filter((m) => m.type === 'bind' && resolve(ROOT, m.source) === join(ROOT, CONNECTOR_FILE))
        .map((mount) => ({ name, mount })),
    );
    expect(found, `one service mounts ${CONNECTOR_FILE}`).toHaveLength(1);
    const [first] = found;
    if (first === undefined) throw new Error('unreachable');
    return first;
  }

  it('mounts connect-config/debezium-source.json read-only into a one-shot that applies it', () => {
    const { name, mount } = findRegistration();
    const registrar = service(name);
    expect(mount.readOnly).toBe(true);
    expect(isOneShot(registrar)).toBe(true);
    const command = Array.isArray(registrar.command) ? registrar.command : [];
    expect(command.slice(0, 2)).toEqual(['connector', 'apply']);
    expect(command[command.indexOf('--file') + 1]).toBe(mount.target);
    // Same image as pgferry, pointed at the compose Connect worker, started once it is healthy.
    expect(registrar.image).toBe(service(pgferryServiceName()).image);
    expect(environmentOf(registrar).CONNECT_URL).toBe('http://connect:8083');
    expect(dependenciesOf(registrar).connect).toBe('service_healthy');
    expect(dependenciesOf(service(pgferryServiceName()))[name]).toBe(
      'service_completed_successfully',
    );
  });

  it('uses the file itself: no copy of it anywhere else in the repo', () => {
    const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
    const original = digest(join(ROOT, CONNECTOR_FILE));
    const skip = new Set(['node_modules', '.git', '.stack', 'dist', 'coverage']);
    const copies: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (skip.has(entry.name)) continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile() && path !== join(ROOT, CONNECTOR_FILE) && digest(path) === original)
          copies.push(relative(ROOT, path));
      }
    };
    walk(ROOT);
    expect(copies).toEqual([]);
  });

  it('sets every ${env:...} placeholder of the connector on the connect service, nothing else', () => {
    expect(placeholders.length).toBeGreaterThanOrEqual(8);
    const env = environmentOf(service('connect'));
    for (const name of placeholders) {
      expect(env[name], `connect sets ${name}`).toBeTruthy();
    }
    const extra = Object.keys(env).filter(
      (k) => !placeholders.includes(k) && k !== 'KAFKA_HEAP_OPTS',
    );
    expect(extra, 'connect env holds only placeholder values (and its heap)').toEqual([]);
  });

  it('points the placeholders at compose services', () => {
    const env = environmentOf(service('connect'));
    const sourceDb = service(env.SOURCE_DB_HOST ?? '');
    expect(sourceDb.image).toMatch(/^postgres:/);
    expect(env.SOURCE_DB_PORT).toBe('5432');
    expect(env.SOURCE_DB_NAME).toBe(environmentOf(sourceDb).POSTGRES_DB);
    expect(env.DEBEZIUM_DB_USER).toBe(environmentOf(sourceDb).PGFERRY_DEBEZIUM_USER);
    expect(env.DEBEZIUM_DB_PASSWORD).toBe(environmentOf(sourceDb).PGFERRY_DEBEZIUM_PASSWORD);
    expect(env.DEBEZIUM_PUBLICATION_NAME).toBe(environmentOf(sourceDb).PGFERRY_PUBLICATION);
    // Apicurio's 2.6 converter speaks the registry's v2 API (see stack/maven/apicurio-converter).
    const registryUrl = new URL(env.APICURIO_REGISTRY_URL ?? '');
    expect(registryUrl.pathname).toBe('/apis/registry/v2');
    expect(portsOf(service(registryUrl.hostname)).map((p) => p.containerPort)).toContain(
      Number(registryUrl.port),
    );
    expect(connector.config['value.converter']).toBe(
      'io.apicurio.registry.utils.converter.AvroConverter',
    );
  });

  it('points the reverse connector at the target database, whose Debezium role exists', () => {
    const env = environmentOf(service('connect'));
    const targetDb = service(env.REVERSE_DB_HOST ?? '');
    expect(env.REVERSE_DB_HOST).toBe('target-db');
    expect(env.REVERSE_DB_NAME).toBe(environmentOf(targetDb).POSTGRES_DB);
    expect(env.REVERSE_DEBEZIUM_DB_USER).toBe(environmentOf(targetDb).PGFERRY_DEBEZIUM_USER);
    expect(env.REVERSE_DEBEZIUM_DB_PASSWORD).toBe(
      environmentOf(targetDb).PGFERRY_DEBEZIUM_PASSWORD,
    );
    const command = targetDb.command;
    const text = Array.isArray(command) ? command.join(' ') : String(command);
    expect(text).toMatch(/-c wal_level=logical/);
    expect(reverseConnector.config['snapshot.mode']).toBe('no_data');
    expect(reverseConnector.config['topic.prefix']).not.toBe(connector.config['topic.prefix']);
  });

  it('gives pgferry the connector files it reads for rollback prepare, read-only', () => {
    const pgferry = service('pgferry');
    const env = environmentOf(pgferry);
    const mounts = (pgferry.volumes ?? []).map(String);
    expect(mounts).toContain('./connect-config:/config:ro');
    for (const [setting, file] of [
      ['CONNECTOR_CONFIG_FILE', CONNECTOR_FILE],
      ['REVERSE_CONNECTOR_CONFIG_FILE', REVERSE_CONNECTOR_FILE],
    ] as const) {
      expect(env[setting]).toBe(`/config/${file.replace('connect-config/', '')}`);
      expect(existsSync(join(ROOT, file))).toBe(true);
    }
  });

  it('starts the source database with the settings logical decoding needs', () => {
    const command = service(environmentOf(service('connect')).SOURCE_DB_HOST ?? '').command;
    const text = Array.isArray(command) ? command.join(' ') : String(command);
    expect(text).toMatch(/-c wal_level=logical/);
    expect(text).toMatch(/-c max_replication_slots=\d+/);
    expect(text).toMatch(/-c max_wal_senders=\d+/);
  });
});

describe('docker-compose.yml: pgferry', () => {
  const name = pgferryServiceName();
  const env = environmentOf(service(name));
  const settings = describeConfig();

  it('sets every setting `pgferry run` needs, and only settings pgferry knows', () => {
    const required = [
      'KAFKA_BOOTSTRAP',
      'KAFKA_GROUP_ID',
      'KAFKA_TOPIC_PATTERN',
      'SCHEMA_REGISTRY_URL',
      'TARGET_DB_HOST',
      'TARGET_DB_PORT',
      'TARGET_DB_NAME',
      'TARGET_DB_USER',
      'TARGET_DB_PASSWORD',
      'TARGET_DB_SSLMODE',
      'SOURCE_DB_HOST',
      'SOURCE_DB_PORT',
      'SOURCE_DB_NAME',
      'SOURCE_DB_USER',
      'SOURCE_DB_PASSWORD',
      'SOURCE_DB_SSLMODE',
      'CONNECT_URL',
      'METRICS_HOST',
      'METRICS_PORT',
    ];
    for (const setting of required) expect(env[setting], `${name} sets ${setting}`).toBeTruthy();
    const known = new Set(settings.map((s) => s.env));
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
    expect(() => loadConfig(env)).not.toThrow();
  });

  it('overrides every setting whose default points at localhost (wrong inside a container)', () => {
    const local = settings.filter((s) => /localhost|127\.0\.0\.1/.test(s.default ?? ''));
    expect(local.map((s) => s.env)).toContain('KAFKA_BOOTSTRAP');
    for (const setting of local) {
      expect(env[setting.env], `${name} overrides ${setting.env}`).toBeDefined();
      expect(env[setting.env]).not.toMatch(/localhost|127\.0\.0\.1/);
    }
    expect(env.METRICS_HOST).toBe('0.0.0.0');
  });

  it('sets a CONTROL_TOKEN, since its control port is bound beyond loopback', () => {
    const config = loadConfig(env);
    expect(choosePauseAccess(readControlToken(config.control), config.metrics.host)).toBe('token');
  });

  it('names compose services and their container ports in its addresses', () => {
    const config = loadConfig(env);
    const endpoints = [
      ...config.kafka.brokers.map((b) => `tcp://${b}`),
      config.schemaRegistry.url,
      config.connect.url,
      `tcp://${config.target.host}:${config.target.port}`,
      `tcp://${config.source?.host}:${config.source?.port}`,
    ];
    for (const endpoint of endpoints) {
      const url = new URL(endpoint);
      expect(services[url.hostname], `${endpoint} names a service`).toBeDefined();
    }
    expect(config.schemaRegistry.url).toBe('http://registry:8080/apis/ccompat/v7');
    expect(config.target.user).toBe(environmentOf(service(config.target.host)).PGFERRY_TARGET_USER);
    expect(config.source?.user).toBe(
      environmentOf(service(config.source?.host ?? '')).PGFERRY_SOURCE_READER_USER,
    );
  });

  it('is scraped by Prometheus at the host:port prometheus/prometheus.yml names', () => {
    const prometheus = parse(readRepoFile('prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = prometheus.scrape_configs.flatMap((c) =>
      c.static_configs.flatMap((s) => s.targets),
    );
    expect(targets).toContain(`${name}:${env.METRICS_PORT}`);
    // `pgferry copy` run in this container (exec, or run --use-aliases) serves COPY_METRICS_PORT.
    const copyJob = prometheus.scrape_configs.find((c) => c.job_name === 'pgferry-copy');
    expect(copyJob?.static_configs.flatMap((s) => s.targets)).toEqual([
      `${name}:${env.COPY_METRICS_PORT}`,
    ]);
    expect(env.COPY_METRICS_PORT).not.toBe(env.METRICS_PORT);
    expect(loadConfig(env).metrics.copyPort).toBe(Number(env.COPY_METRICS_PORT));
    for (const target of targets) {
      const [host = '', port = ''] = target.split(':');
      expect(
        portsOf(service(host)).map((p) => p.containerPort),
        target,
      ).toContain(Number(port));
    }
    const mounts = mountsOf(service('prometheus'));
    expect(mounts).toContainEqual({
      type: 'bind',
      source: './prometheus',
      target: '/etc/prometheus',
      readOnly: true,
    });
    expect(service('prometheus').command).toContain('--config.file=/etc/prometheus/prometheus.yml');
  });
});

describe('docker-compose.yml: the other services', () => {
  it('runs Kafka with an internal and a host listener', () => {
    const kafka = service('kafka');
    const env = environmentOf(kafka);
    const advertised = (env.KAFKA_ADVERTISED_LISTENERS ?? '').split(',');
    expect(advertised).toContain('INTERNAL://kafka:9092');
    const [port] = portsOf(kafka);
    expect(port?.hostPort).toBe(port?.containerPort);
    expect(advertised).toContain(`EXTERNAL://127.0.0.1:${port?.hostPort}`);
    expect(env.KAFKA_LISTENERS).toContain(`EXTERNAL://0.0.0.0:${port?.hostPort}`);
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(readRepoFile('docker/connect/worker.properties')).toMatch(
      /^bootstrap\.servers=kafka:9092$/m,
    );
  });

  it('bootstraps both databases with the native stack SQL files, run with all their variables', () => {
    for (const [name, sql] of [
      ['source-db', 'stack/sql/source-bootstrap.sql'],
      ['target-db', 'stack/sql/target-bootstrap.sql'],
    ] as const) {
      const db = service(name);
      const mounts = mountsOf(db);
      const sqlMount = mounts.find((m) => resolve(ROOT, m.source) === join(ROOT, sql));
      expect(sqlMount, `${name} mounts ${sql}`).toBeDefined();
      expect(sqlMount?.target.startsWith('/docker-entrypoint-initdb.d')).toBe(false);
      const init = mounts.find((m) => m.target === '/docker-entrypoint-initdb.d');
      expect(init?.source, `${name} mounts an init folder`).toMatch(/^\.\/docker\//);
      const initDir = join(ROOT, init?.source ?? '');
      const scripts = readdirSync(initDir).filter((f) => f.endsWith('.sh'));
      expect(scripts.length).toBe(1);
      const scriptPath = join(initDir, scripts[0] ?? '');
      const script = readFileSync(scriptPath, 'utf8');
      expect(statSync(scriptPath).mode & 0o111, `${scriptPath} is executable`).not.toBe(0);
      execFileSync('bash', ['-n', scriptPath]);
      expect(script).toMatch(/ON_ERROR_STOP=1/);
      expect(script).toContain(`-f ${sqlMount?.target}`);
      // Every :'variable' of the SQL is passed with -v, from a variable the container has.
      const used = new Set([...readRepoFile(sql).matchAll(/:'([a-z_]+)'/g)].map((m) => m[1]));
      expect(used.size).toBeGreaterThan(1);
      for (const variable of used)
        expect(script, `-v ${variable}=`).toMatch(new RegExp(`-v ${variable}=`));
      const env = environmentOf(db);
      for (const m of script.matchAll(/\$\{?([A-Z][A-Z0-9_]*)\}?/g)) {
        expect(env[m[1] ?? ''], `${name} sets ${m[1]}`).toBeTruthy();
      }
    }
  });

  it('creates the sample users table on the source before its roles script', () => {
    const init = mountsOf(service('source-db')).find(
      (m) => m.target === '/docker-entrypoint-initdb.d',
    );
    const files = readdirSync(join(ROOT, init?.source ?? '')).sort();
    const schema = files.find((f) => f.endsWith('.sql')) ?? '';
    expect(files.indexOf(schema)).toBeLessThan(files.findIndex((f) => f.endsWith('.sh')));
    const sql = readFileSync(join(ROOT, init?.source ?? '', schema), 'utf8');
    expect(sql).toMatch(/CREATE TABLE IF NOT EXISTS public\.users/);
    expect(sql).toMatch(/\bid serial PRIMARY KEY/);
    for (const column of ['username', 'email', 'created_at'])
      expect(sql).toMatch(new RegExp(`\\b${column}\\b`));
  });

  it('runs Grafana with provisioning mounted, anonymous viewers and the pgferry dashboard as home', () => {
    const grafana = service('grafana');
    const env = environmentOf(grafana);
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    expect(env.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
    const mounts = mountsOf(grafana);
    expect(mounts.find((m) => m.source === './grafana/provisioning')?.target).toBe(
      '/etc/grafana/provisioning',
    );
    const dashboards = mounts.find((m) => m.source === './grafana/dashboards');
    // The dashboard file itself comes with the observability work; its path is fixed here.
    expect(env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(
      `${dashboards?.target}/pgferry-overview.json`,
    );
  });

  it('keeps passwords out of images: every one is a compose variable with a local default', () => {
    for (const [name, s] of Object.entries(raw.services)) {
      for (const [key, value] of Object.entries(environmentOf(s))) {
        if (!/PASSWORD|SECRET|TOKEN/.test(key)) continue;
        expect(value, `${name}.${key} comes from a variable`).toMatch(/^\$\{[A-Z0-9_]+:-[^}]+\}$/);
      }
      const build = buildOf(s);
      for (const key of Object.keys(build?.args ?? {})) {
        expect(key, `${name}: build arg ${key}`).not.toMatch(/PASSWORD|SECRET|TOKEN/);
      }
    }
  });
});

describe('docker/http-probe.sh (the health check of the registry and Connect)', () => {
  const probe = join(ROOT, 'docker/http-probe.sh');
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/ok') {
        response.end('["io.debezium.connector.postgresql.PostgresConnector", "AvroConverter"]');
      } else {
        response.statusCode = 503;
        response.end('starting');
      }
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((done) => server.close(done));
  });

  // Asynchronous, so that the server in this process can answer while the probe waits.
  const run = (...args: string[]) =>
    new Promise<number>((done) => {
      execFile('bash', [probe, ...args], { timeout: 15_000 }, (error) => {
        done(error === null ? 0 : typeof error.code === 'number' ? error.code : -1);
      });
    });

  it('is healthy on a 200 whose body holds every expected text', async () => {
    expect(await run(String(port), '/ok')).toBe(0);
    expect(await run(String(port), '/ok', 'PostgresConnector', 'AvroConverter')).toBe(0);
  });

  it('is unhealthy on a missing text, a non-200 status or a closed port', async () => {
    expect(await run(String(port), '/ok', 'PostgresConnector', 'JdbcSinkConnector')).toBe(1);
    expect(await run(String(port), '/starting')).toBe(1);
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    expect(await run(String(freePort), '/ok')).toBe(1);
  });
});
