// One row of the settings table: where its value goes in the typed config (`key`), how the env
// string is parsed, its default, description and secret flag, and when the value is present.
import type { z } from 'zod';
import type { EnvSchema } from './setting-parsers.js';

/**
 * When a setting's value is in the typed config; `PgferryConfig`'s optional marks follow this.
 * - 'default': always, it has an env-string default;
 * - 'optional': only when set;
 * - 'group-marker': only when set, and the object holding it (e.g. `kafka.sasl`) exists only then;
 * - 'group-member': whenever the object holding it exists (a cross-setting check requires it);
 * - 'derived': always; unset = computed from other settings (DERIVED_VALUES in build-config.ts).
 * A setting with a default inside a group's object is there whenever that object is.
 */
export type SettingPresence = 'default' | 'optional' | 'group-marker' | 'group-member' | 'derived';

export interface Setting<
  K extends string = string,
  S extends z.ZodTypeAny = z.ZodTypeAny,
  P extends SettingPresence = SettingPresence,
> {
  /** Dotted path of the value in `PgferryConfig`: the one place that says where it goes. */
  key: K;
  description: string;
  secret: boolean;
  /** Default as it would be written in the env; undefined = unset unless given. */
  default: string | undefined;
  presence: P;
  schema: S;
}

interface SettingMeta<K extends string> {
  key: K;
  description: string;
  secret?: boolean;
}

type PresenceWithoutDefault = Exclude<SettingPresence, 'default'>;

export function defineSetting<const K extends string, S extends EnvSchema<unknown>>(
  meta: SettingMeta<K> & { default: string },
  schema: S,
): Setting<K, z.ZodDefault<S>, 'default'>;
export function defineSetting<
  const K extends string,
  S extends EnvSchema<unknown>,
  const P extends PresenceWithoutDefault = 'optional',
>(
  meta: SettingMeta<K> & { default?: undefined; presence?: P },
  schema: S,
): Setting<K, z.ZodOptional<S>, P>;
export function defineSetting<S extends EnvSchema<unknown>>(
  meta: SettingMeta<string> & { default?: string; presence?: PresenceWithoutDefault },
  schema: S,
): Setting {
  return {
    key: meta.key,
    description: meta.description,
    secret: meta.secret ?? false,
    default: meta.default,
    presence: meta.default === undefined ? (meta.presence ?? 'optional') : 'default',
    // The default is the env-string form, so it goes through the same parsing as a set value.
    schema: meta.default === undefined ? schema.optional() : schema.default(meta.default),
  };
}
