// The typed configuration, derived from the settings table at the type level: each setting's
// `key` path becomes a nested property, optional or not as its `presence` says.
import type { z } from 'zod';
import type { SettingPresence } from './setting-definition.js';
import type { SettingEnvName, SettingsTable } from './settings-table.js';

/** The typed value of one setting once it is set (or defaulted). */
export type SettingValue<E extends SettingEnvName> = Exclude<
  z.output<SettingsTable[E]['schema']>,
  undefined
>;

/** Presences whose value is always in the typed config (within its group's object, if any). */
type AlwaysPresent = Exclude<SettingPresence, 'optional'>;

/** One value of the typed config: its dotted path, its type and whether it is always there. */
interface ConfigLeaf {
  path: string;
  value: unknown;
  required: boolean;
}

type SettingLeaves = {
  [E in SettingEnvName]: {
    path: SettingsTable[E]['key'];
    value: SettingValue<E>;
    required: SettingsTable[E]['presence'] extends AlwaysPresent ? true : false;
  };
}[SettingEnvName];

/** `a.b.c` -> `a.b`; a top-level key has no parent. */
type ParentPath<K extends string> = K extends `${infer Head}.${infer Rest}`
  ? Rest extends `${string}.${string}`
    ? `${Head}.${ParentPath<Rest>}`
    : Head
  : never;

/** Objects that exist only when their group marker is set, e.g. 'kafka.sasl' or 'source'. */
type OptionalGroupPath = {
  [E in SettingEnvName]: SettingsTable[E]['presence'] extends 'group-marker'
    ? ParentPath<SettingsTable[E]['key']>
    : never;
}[SettingEnvName];

type FirstPart<P extends string> = P extends `${infer Head}.${string}` ? Head : P;

/** The leaves under `Head.`, with that prefix taken off their paths. */
type LeavesBelow<L extends ConfigLeaf, Head extends string> = L extends ConfigLeaf
  ? L['path'] extends `${Head}.${infer Rest}`
    ? { path: Rest; value: L['value']; required: L['required'] }
    : never
  : never;

type LeafAt<L extends ConfigLeaf, Name extends string> = Extract<L, { path: Name }>;

/** A leaf's value, or the object made of the leaves below `Name`. */
type ConfigNode<L extends ConfigLeaf, Name extends string, Base extends string> = [
  LeafAt<L, Name>,
] extends [never]
  ? ConfigTree<LeavesBelow<L, Name>, `${Base}${Name}.`>
  : LeafAt<L, Name>['value'];

type IsOptional<L extends ConfigLeaf, Name extends string, Base extends string> = [
  LeafAt<L, Name>,
] extends [never]
  ? `${Base}${Name}` extends OptionalGroupPath
    ? true
    : false
  : LeafAt<L, Name>['required'] extends true
    ? false
    : true;

/** The nested object the leaves `L` (paths relative to `Base`) describe. */
type ConfigTree<L extends ConfigLeaf, Base extends string = ''> = {
  [Name in FirstPart<L['path']> as IsOptional<L, Name, Base> extends true
    ? never
    : Name]: ConfigNode<L, Name, Base>;
} & {
  [Name in FirstPart<L['path']> as IsOptional<L, Name, Base> extends true
    ? Name
    : never]?: ConfigNode<L, Name, Base>;
} extends infer Merged
  ? Simplify<Merged>
  : never;

type Simplify<T> = { [K in keyof T]: T[K] };

/** The config exactly as the settings table places and types every value. */
type TableConfig = ConfigTree<SettingLeaves>;

/**
 * A PostgreSQL connection's settings: the shape of the optional SOURCE_DB_* group. The target's
 * settings fit it too (PgferryConfig checks that), so the two can stand in for each other.
 */
export type PostgresSettings = NonNullable<TableConfig['source']>;

/** `Wide`, once the compiler has checked that `_Narrow` fits it. */
type WidenTo<_Narrow extends Wide, Wide> = Wide;

/**
 * pgferry's validated settings, one property per setting of the table, at its `key`. The one
 * shape not taken from the table as is: `target` is a PostgresSettings (password optional even
 * though it has a default) because `--reverse` makes the source the target, written by the
 * rollback role, which may have no password (migrate/reverse-config.ts).
 */
export type PgferryConfig = Simplify<
  Omit<TableConfig, 'target'> & { target: WidenTo<TableConfig['target'], PostgresSettings> }
>;

export type KafkaSettings = PgferryConfig['kafka'];
