// Static tests of the images (no Docker engine here): dockerfile-utils' linter, the properties of
// pgferry's production Dockerfile, and the Connect image's agreement with the native stack.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string>;
  stages: Stage[];
}

function readRepoFile(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** Instructions with continuation lines joined; comments and parser directives dropped. */
function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (pending !== '' && line.trim().startsWith('#')) return;
    if (pending === '') start = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const space = full.search(/\s/);
    instructions.push({
      keyword: (space < 0 ? full : full.slice(0, space)).toUpperCase(),
      args: space < 0 ? '' : full.slice(space + 1).trim(),
      line: start,
    });
  });
  return instructions;
}

function substitute(text: string, args: Map<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (match, a?: string, b?: string) => {
    return args.get(a ?? b ?? '') ?? match;
  });
}

function parseDockerfile(path: string): Dockerfile {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of parseInstructions(readRepoFile(path))) {
    const current = stages.at(-1);
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const as = words.findIndex((w) => w.toUpperCase() === 'AS');
      stages.push({
        image: substitute(words[0] ?? '', globalArgs),
        name: as >= 0 ? words[as + 1] : undefined,
        instructions: [],
      });
    } else if (current === undefined) {
      if (instruction.keyword === 'ARG') {
        const [name = '', value = ''] = instruction.args.split('=');
        globalArgs.set(name, value);
      }
    } else {
      current.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

function finalStage(dockerfile: Dockerfile): Stage {
  const stage = dockerfile.stages.at(-1);
  if (stage === undefined) throw new Error('Dockerfile has no FROM');
  return stage;
}

function stageNamed(dockerfile: Dockerfile, name: string): Stage {
  const stage = dockerfile.stages.find((s) => s.name === name);
  if (stage === undefined) throw new Error(`Dockerfile has no stage ${name}`);
  return stage;
}

function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** Stage-local ARG defaults (ARG NAME=value inside the stage). */
function stageArgs(stage: Stage): Map<string, string> {
  return new Map(
    instructionsOf(stage, 'ARG').map((i) => {
      const at = i.args.indexOf('=');
      return [i.args.slice(0, at), i.args.slice(at + 1)] as [string, string];
    }),
  );
}

interface Copy {
  from: string | undefined;
  sources: string[];
  destination: string;
}

function copiesOf(stage: Stage): Copy[] {
  return instructionsOf(stage, 'COPY').map((i) => {
    const words = i.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    return { from, sources: paths.slice(0, -1), destination: paths.at(-1) ?? '' };
  });
}

function lastUser(stage: Stage): string | undefined {
  return instructionsOf(stage, 'USER').at(-1)?.args;
}

const SECRET_NAME = /PASSWORD|SECRET|TOKEN|CREDENTIAL|(^|_)KEY($|_)/i;

/** The variable names an ENV or ARG sets: every NAME=value, or the legacy `ENV NAME value`. */
function variableNames(instruction: Instruction): string[] {
  const names = [...instruction.args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=/g)].map(
    (m) => m[1] ?? '',
  );
  return names.length > 0 ? names : [instruction.args.split(/\s+/)[0] ?? ''];
}

function lint(text: string) {
  return validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`);
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

/** .dockerignore semantics: patterns in order, the last match wins, `!` re-includes. */
function isIgnored(path: string, patterns: string[]): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(
      `^${pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?')}(?:/.*)?$`,
    );
    if (regex.test(path)) ignored = !negated;
  }
  return ignored;
}

function readDockerignore(): string[] {
  return readRepoFile('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

const compose = parse(readRepoFile('docker-compose.yml')) as {
  services: Record<
    string,
    {
      image?: string;
      build?: { args?: Record<string, string>; additional_contexts?: Record<string, string> };
    }
  >;
};

describe('Dockerfile (pgferry)', () => {
  const dockerfile = parseDockerfile('Dockerfile');
  const final = finalStage(dockerfile);

  it('passes the dockerfile-utils linter', () => {
    expect(lint(readRepoFile('Dockerfile'))).toEqual([]);
  });

  it('has a linter that reports broken instructions', () => {
    const problems = lint(
      'FROM node:20\nHEALTHCHECK --interval=ten CMD true\nEXPOSE port\nCOPY a\n',
    );
    expect(problems.length).toBeGreaterThanOrEqual(3);
  });

  it('is multi-stage, every stage on the same pinned Node 20 slim image', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    const image = dockerfile.globalArgs.get('NODE_IMAGE') ?? '';
    expect(image).toMatch(/^node:20\.\d+\.\d+-(bookworm-|trixie-)?slim$/);
    for (const stage of dockerfile.stages) expect(stage.image).toBe(image);
    const engines = (JSON.parse(readRepoFile('package.json')) as { engines: { node: string } })
      .engines.node;
    expect(engines).toBe('>=20');
  });

  it('installs with `npm ci` from the lockfile, then builds', () => {
    const build = stageNamed(dockerfile, 'build');
    const runs = instructionsOf(build, 'RUN');
    const ci = build.instructions.findIndex(
      (i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args) && !/--omit=dev/.test(i.args),
    );
    const lockfile = build.instructions.findIndex(
      (i) => i.keyword === 'COPY' && i.args.split(/\s+/).includes('package-lock.json'),
    );
    const compile = build.instructions.findIndex(
      (i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args),
    );
    expect(lockfile).toBeGreaterThanOrEqual(0);
    expect(ci).toBeGreaterThan(lockfile);
    expect(compile).toBeGreaterThan(ci);
    for (const stage of dockerfile.stages) {
      for (const run of instructionsOf(stage, 'RUN'))
        expect(run.args).not.toMatch(/npm (i|install)\b/);
    }
    expect(runs.length).toBeGreaterThan(0);
    // Everything the build compiles is in the stage before `npm run build`.
    const tsconfig = JSON.parse(readRepoFile('tsconfig.build.json')) as { include: string[] };
    const copied = copiesOf(build)
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources);
    for (const dir of tsconfig.include.filter((d) => !d.includes('*'))) {
      expect(copied, `build stage copies ${dir}`).toContain(dir);
    }
    for (const config of ['tsconfig.json', 'tsconfig.build.json']) expect(copied).toContain(config);
  });

  it('ships only production dependencies and the compiled code', () => {
    expect(instructionsOf(final, 'RUN').filter((r) => /\bnpm\b/.test(r.args))).toEqual([]);
    const copies = copiesOf(final);
    const modules = copies.find((c) => c.sources.some((s) => s.endsWith('node_modules')));
    expect(modules?.from, 'node_modules come from another stage').toBeDefined();
    const depsStage = stageNamed(dockerfile, modules?.from ?? '');
    expect(
      instructionsOf(depsStage, 'RUN')
        .map((r) => r.args)
        .join('\n'),
    ).toMatch(/npm ci\b.*--omit=dev/);
    const dist = copies.find((c) => c.sources.some((s) => s.endsWith('/dist')));
    expect(dist?.from).toBe('build');
    expect(copies.flatMap((c) => c.sources)).not.toContain('.');
  });

  it('runs as a non-root user', () => {
    const user = lastUser(final);
    expect(user).toBeDefined();
    expect(['root', '0', '0:0', 'root:root']).not.toContain(user);
  });

  it('has a HEALTHCHECK that asks /healthz on the metrics port with node (no curl in slim)', () => {
    const [healthcheck] = instructionsOf(final, 'HEALTHCHECK');
    expect(healthcheck).toBeDefined();
    const args = healthcheck?.args ?? '';
    expect(args).toMatch(/--interval=\d+s/);
    expect(args).toMatch(/--timeout=\d+s/);
    const command = JSON.parse(args.slice(args.indexOf('CMD') + 3).trim()) as string[];
    expect(command[0]).toBe('node');
    expect(command.join(' ')).toMatch(/http:\/\/127\.0\.0\.1:.*9464.*\/healthz/);
  });

  it('starts bin/pgferry.js, which loads the compiled CLI, and exposes the metrics port', () => {
    const [entrypoint] = instructionsOf(final, 'ENTRYPOINT');
    expect(JSON.parse(entrypoint?.args ?? '[]')).toEqual(['node', 'bin/pgferry.js']);
    expect(readRepoFile('bin/pgferry.js')).toMatch(/import '\.\.\/dist\/cli\/main\.js'/);
    expect(existsSync(join(ROOT, 'cli/main.ts'))).toBe(true);
    const tsconfig = JSON.parse(readRepoFile('tsconfig.json')) as {
      compilerOptions: { outDir: string; rootDir: string };
    };
    expect(tsconfig.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: '.' });
    const sources = copiesOf(final).flatMap((c) => c.sources);
    for (const needed of ['bin', 'package.json']) expect(sources).toContain(needed);
    expect(instructionsOf(final, 'EXPOSE').map((e) => e.args)).toContain('9464');
    expect(JSON.parse(instructionsOf(final, 'CMD')[0]?.args ?? '[]')).toEqual(['run']);
  });

  it('bakes in no secret, no .env and no connector config (compose mounts that)', () => {
    const passwords = [...readNativeDefaults()]
      .filter(([name]) => /PASSWORD/.test(name))
      .map(([, value]) => value);
    expect(passwords.length).toBeGreaterThan(2);
    for (const stage of dockerfile.stages) {
      for (const i of stage.instructions.filter((x) => ['ENV', 'ARG'].includes(x.keyword))) {
        for (const name of variableNames(i)) {
          expect(name, `${i.keyword} ${name}`).not.toMatch(SECRET_NAME);
        }
        for (const password of passwords) expect(i.args).not.toContain(password);
      }
      for (const copy of copiesOf(stage)) {
        for (const s of copy.sources) expect(s).not.toMatch(/^\.env|connect-config/);
      }
    }
  });

  it('has a .dockerignore that keeps what COPY needs and leaves local state and .env out', () => {
    const patterns = readDockerignore();
    for (const stage of dockerfile.stages) {
      for (const copy of copiesOf(stage).filter((c) => c.from === undefined)) {
        for (const s of copy.sources) {
          expect(isIgnored(s, patterns), `${s} reaches the build`).toBe(false);
          expect(existsSync(join(ROOT, s)), `${s} exists`).toBe(true);
        }
      }
    }
    for (const path of ['.env', 'node_modules', 'dist', '.stack', '.git', 'cli/x.test.ts']) {
      expect(isIgnored(path, patterns), `${path} is ignored`).toBe(true);
    }
    expect(isIgnored('cli/main.ts', patterns)).toBe(false);
  });
});

describe('docker/connect/Dockerfile (Kafka Connect + Debezium + Apicurio converter)', () => {
  const path = 'docker/connect/Dockerfile';
  const dockerfile = parseDockerfile(path);
  const final = finalStage(dockerfile);
  const native = readNativeDefaults();

  it('passes the dockerfile-utils linter', () => {
    expect(lint(readRepoFile(path))).toEqual([]);
  });

  it("builds on Apache Kafka's image at the native stack's Kafka version", () => {
    const kafkaVersion = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(
      readRepoFile('stack/maven/kafka/pom.xml'),
    )?.[1];
    expect(kafkaVersion).toBeDefined();
    expect(final.image).toBe(`apache/kafka:${kafkaVersion}`);
    expect(compose.services.kafka?.image).toBe(`apache/kafka:${kafkaVersion}`);
    expect(compose.services.registry?.image).toBe(
      `apicurio/apicurio-registry:${native.get('PGFERRY_APICURIO_REGISTRY_VERSION')}`,
    );
    for (const stage of dockerfile.stages) expect(stage.image).toMatch(/:\d[\w.-]*$/);
  });

  it("installs stack/defaults.env's Debezium and the converter of the native stack's pom", () => {
    const plugins = dockerfile.stages[0];
    if (plugins === undefined) throw new Error('no stages');
    const debezium = native.get('PGFERRY_DEBEZIUM_VERSION');
    expect(stageArgs(plugins).get('DEBEZIUM_VERSION')).toBe(debezium);
    expect(compose.services.connect?.build?.args?.DEBEZIUM_VERSION).toBe(
      `\${PGFERRY_DEBEZIUM_VERSION:-${debezium}}`,
    );
    const pomCopy = copiesOf(plugins).find((c) => c.from === 'stack-maven');
    expect(pomCopy?.sources).toEqual(['apicurio-converter/pom.xml']);
    expect(compose.services.connect?.build?.additional_contexts?.['stack-maven']).toBe(
      './stack/maven',
    );
    const run = instructionsOf(plugins, 'RUN')
      .map((r) => r.args)
      .join('\n');
    expect(run).toContain('-f apicurio-converter/pom.xml');
    expect(run).toContain(
      'io.debezium:debezium-connector-postgres:${DEBEZIUM_VERSION}:tar.gz:plugin',
    );
    // The converter line the connector file's settings (as-confluent, use-id) are written for.
    const pom = readRepoFile('stack/maven/apicurio-converter/pom.xml');
    expect(pom).toMatch(
      /<artifactId>apicurio-registry-utils-converter<\/artifactId>\s*<version>2\.6\.[^<]+<\/version>/,
    );
    const connector = JSON.parse(readRepoFile('connect-config/debezium-source.json')) as {
      config: Record<string, string>;
    };
    expect(connector.config['value.converter.apicurio.registry.as-confluent']).toBe('true');
  });

  it('configures the worker like the native stack, apart from host names and paths', () => {
    const properties = (text: string) =>
      new Map(
        text
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '' && !l.startsWith('#') && l.includes('='))
          .map(
            (l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string],
          ),
      );
    const heredoc = /cat >"\$dir\/worker\.properties" <<CONF\n([\s\S]*?)\nCONF/.exec(
      readRepoFile('stack/lib/connect.sh'),
    )?.[1];
    expect(heredoc, 'stack/lib/connect.sh still writes worker.properties').toBeDefined();
    const nativeWorker = properties(heredoc ?? '');
    const worker = properties(readRepoFile('docker/connect/worker.properties'));
    expect([...worker.keys()].sort()).toEqual([...nativeWorker.keys()].sort());
    const hostSpecific = [
      'bootstrap.servers',
      'listeners',
      'rest.advertised.host.name',
      'rest.advertised.port',
      'plugin.path',
    ];
    for (const [key, value] of nativeWorker) {
      if (!hostSpecific.includes(key)) expect(worker.get(key), key).toBe(value);
    }
    expect(worker.get('config.providers.env.class')).toBe(
      'org.apache.kafka.common.config.provider.EnvVarConfigProvider',
    );
    // plugin.path is where the plugins stage's output lands; CMD starts the worker with the file.
    const copies = copiesOf(final);
    expect(copies.find((c) => c.from === 'plugins')?.destination).toBe(worker.get('plugin.path'));
    const workerFile = copies.find((c) => c.sources.includes('worker.properties'))?.destination;
    expect(JSON.parse(instructionsOf(final, 'CMD')[0]?.args ?? '[]')).toEqual([
      '/opt/kafka/bin/connect-distributed.sh',
      workerFile,
    ]);
  });

  it('runs as a non-root user and bakes in no secret', () => {
    expect(['root', '0', undefined]).not.toContain(lastUser(final));
    for (const stage of dockerfile.stages) {
      for (const i of stage.instructions.filter((x) => ['ENV', 'ARG'].includes(x.keyword))) {
        for (const name of variableNames(i)) expect(name, i.args).not.toMatch(SECRET_NAME);
      }
    }
  });
});
