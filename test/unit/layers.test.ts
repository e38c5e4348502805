// The house rule: imports run one way, from higher layers to lower ones, and no files import each
// other in a loop. The allowed directions are written once, here (LAYERS, FAMILIES); the READMEs
// and the architecture section of the README describe the same picture.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');

/** Each product layer and the layers it may import (its own files always). Lowest first. */
const LAYERS: Record<string, readonly string[]> = {
  core: [],
  pipeline: ['core'],
  sink: ['core', 'pipeline'],
  ops: ['core', 'pipeline'],
  migrate: ['core', 'pipeline', 'sink', 'ops'],
  cli: ['core', 'pipeline', 'sink', 'ops', 'migrate'],
};

/**
 * Inside migrate/: each command family and the other families it may use. Files at migrate/'s
 * top (the command context, the table selection) serve every family and import none.
 */
const FAMILIES: Record<string, readonly string[]> = {
  connector: [],
  demo: [],
  'schema-sync': [],
  verify: [],
  status: [],
  preflight: ['schema-sync'],
  pause: ['connector'],
  resnapshot: ['status'],
  cutover: ['status', 'verify', 'connector'],
  copy: ['schema-sync'],
};

/** Packages a layer must not use: the stream core never talks to PostgreSQL itself. */
const FORBIDDEN_PACKAGES: Record<string, readonly string[]> = {
  pipeline: ['pg', 'pg-copy-streams'],
};

const PRODUCT = Object.keys(LAYERS);

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...listTs(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g;

/** What a file imports: repo-relative .ts paths for relative imports, bare names for packages. */
export function importsOf(file: string, source: string): { files: string[]; packages: string[] } {
  const files: string[] = [];
  const packages: string[] = [];
  for (const m of source.matchAll(IMPORT)) {
    const spec = m[1] as string;
    if (spec.startsWith('.')) {
      files.push(normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
    } else if (!spec.startsWith('node:')) {
      packages.push(
        spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec),
      );
    }
  }
  return { files, packages };
}

const layerOf = (file: string): string => file.split('/')[0] as string;
const familyOf = (file: string): string | undefined => {
  const parts = file.split('/');
  return parts[0] === 'migrate' && parts.length > 2 ? parts[1] : undefined;
};

const productFiles = PRODUCT.flatMap((layer) => listTs(layer));
const graph = new Map(
  productFiles.map((f) => [f, importsOf(f, readFileSync(join(ROOT, f), 'utf8'))] as const),
);

/** Strongly connected components of more than one file (Tarjan). */
function importCircles(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, indices.get(w) as number));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) circles.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!indices.has(v)) visit(v);
  return circles;
}

describe('layers', () => {
  it('finds the product files (the check reads something)', () => {
    for (const layer of PRODUCT) {
      expect(
        productFiles.some((f) => layerOf(f) === layer),
        layer,
      ).toBe(true);
    }
    expect(graph.get('cli/run-pipeline.ts')?.files.length).toBeGreaterThan(5);
  });

  it('imports only from the same or a lower layer', () => {
    const upward: string[] = [];
    for (const [file, { files }] of graph) {
      const from = layerOf(file);
      for (const target of files) {
        const to = layerOf(target);
        if (to !== from && !LAYERS[from]?.includes(to)) upward.push(`${file} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('imports only existing product files (no reach into tests, bench or stack)', () => {
    const outside: string[] = [];
    for (const [file, { files }] of graph) {
      for (const target of files) if (!graph.has(target)) outside.push(`${file} -> ${target}`);
    }
    expect(outside).toEqual([]);
  });

  it('keeps migrate/ command families apart except for the uses declared', () => {
    const crossing: string[] = [];
    for (const [file, { files }] of graph) {
      if (layerOf(file) !== 'migrate') continue;
      const from = familyOf(file);
      for (const target of files) {
        if (layerOf(target) !== 'migrate') continue;
        const to = familyOf(target);
        if (to === from) continue;
        if (from === undefined)
          crossing.push(`${file} -> ${target} (shared files import no family)`);
        else if (to !== undefined && !FAMILIES[from]?.includes(to))
          crossing.push(`${file} -> ${target}`);
      }
    }
    for (const file of productFiles) {
      const family = familyOf(file);
      if (family !== undefined) expect(Object.keys(FAMILIES), file).toContain(family);
    }
    expect(crossing).toEqual([]);
  });

  it('keeps packages out of the layers that must not use them', () => {
    const found: string[] = [];
    for (const [file, { packages }] of graph) {
      for (const p of packages) {
        if (FORBIDDEN_PACKAGES[layerOf(file)]?.includes(p)) found.push(`${file} uses ${p}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('has no import circles in product code or the bench', () => {
    const files = [...productFiles, ...listTs('bench')];
    const edges = new Map(
      files.map((f) => [f, importsOf(f, readFileSync(join(ROOT, f), 'utf8')).files] as const),
    );
    expect(importCircles(edges)).toEqual([]);
  });

  it('finds a circle and an upward import when there is one (the check can fail)', () => {
    const edges = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(importCircles(edges)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    const parsed = importsOf('pipeline/runner.ts', "import { X } from '../sink/postgres-sink.js';");
    expect(parsed.files).toEqual(['sink/postgres-sink.ts']);
    expect(LAYERS.pipeline).not.toContain(layerOf(parsed.files[0] as string));
  });

  it('every product folder says in a README what lives there and what it may import', () => {
    const missing: string[] = [];
    const dirs = new Set(productFiles.map((f) => dirname(f)));
    for (const dir of dirs) {
      try {
        readFileSync(join(ROOT, dir, 'README.md'), 'utf8');
      } catch {
        missing.push(relative('.', dir));
      }
    }
    expect(missing).toEqual([]);
  });
});
