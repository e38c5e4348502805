// Reading and writing a value of the typed config at a setting's dotted `key` (e.g. 'kafka.groupId').
import type { PgferryConfig } from './pgferry-config.js';

/** Reads the value at a dotted `key` from the settings table; undefined when not set. */
export function readConfigValue(config: PgferryConfig, key: string): unknown {
  let node: unknown = config;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Writes `value` at a dotted `key`, making the objects on the way that do not exist yet. */
export function writeConfigValue(config: object, key: string, value: unknown): void {
  const dot = key.lastIndexOf('.');
  ensureConfigObject(config, parentPath(key))[key.slice(dot + 1)] = value;
}

/** The object at a dotted `path` (the config itself for undefined), made if it does not exist. */
export function ensureConfigObject(
  config: object,
  path: string | undefined,
): Record<string, unknown> {
  let node = config as Record<string, unknown>;
  for (const part of path === undefined ? [] : path.split('.')) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  return node;
}

/** 'a.b.c' -> 'a.b'; undefined for a top-level key. */
export function parentPath(key: string): string | undefined {
  const dot = key.lastIndexOf('.');
  return dot < 0 ? undefined : key.slice(0, dot);
}
