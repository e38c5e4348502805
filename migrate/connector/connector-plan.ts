// Decides what `connector apply` must do, as a pure function of current and desired config,
// so the idempotency rule (write only when something differs) is testable without Connect.
import type { ConnectorConfig } from '../../core/connect-client.js';

export type ConnectorChange =
  | { action: 'create'; config: ConnectorConfig }
  | { action: 'update'; config: ConnectorConfig; changedKeys: string[] }
  | { action: 'unchanged' };

// Connect adds "name" to every stored config and rejects a body whose "name" differs from the
// URL, so the key says nothing about the desired state: leave it out of comparison and body.
const IGNORED_KEYS = new Set(['name']);

/**
 * `current` is what GET /connectors/{name}/config returned (undefined on 404). Values are
 * compared as raw strings: Connect returns `${env:...}` placeholders unresolved, as sent.
 */
export function planConnectorChange(
  current: ConnectorConfig | undefined,
  desired: ConnectorConfig,
): ConnectorChange {
  const config = stripIgnoredKeys(desired);
  if (current === undefined) return { action: 'create', config };
  const stored = stripIgnoredKeys(current);
  const keys = new Set([...Object.keys(stored), ...Object.keys(config)]);
  const changedKeys = [...keys].filter((key) => stored[key] !== config[key]).sort();
  return changedKeys.length === 0
    ? { action: 'unchanged' }
    : { action: 'update', config, changedKeys };
}

function stripIgnoredKeys(config: ConnectorConfig): ConnectorConfig {
  return Object.fromEntries(Object.entries(config).filter(([key]) => !IGNORED_KEYS.has(key)));
}
