// pgferry's settings: one table (config/settings-table.ts) gives every setting its env var, type,
// default, description, secret flag and place in the typed config; the rest is derived from it.
// Read once at start (`loadConfig`); nothing else reads the env. Importers use this module.

export {
  type ConfigSettingDescription,
  describeConfig,
  REDACTED,
  redactConfig,
} from './config/config-description.js';
export { readConfigValue } from './config/config-path.js';
export { readControlToken } from './config/control-token.js';
export { loadConfig } from './config/load-config.js';
export type { KafkaSettings, PgferryConfig, PostgresSettings } from './config/pgferry-config.js';
export { DEFAULT_SOURCE_SCHEMA } from './config/schema-mapping-settings.js';
export { findSecretValues } from './config/secret-values.js';
export {
  SASL_MECHANISMS,
  type SaslMechanism,
  SSL_MODES,
  type SslMode,
} from './config/setting-choices.js';
export { type SettingEnvName, settingsSchema } from './config/settings-table.js';
export { findUrlCredentialSources } from './config/url-credentials-settings.js';
