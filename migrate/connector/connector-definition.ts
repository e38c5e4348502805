// Reads the connector JSON file (Connect REST shape {"name", "config"}) into a name and a
// string map. Values are kept verbatim: `${env:VAR}` placeholders are resolved by the worker.
import { readFile } from 'node:fs/promises';
import type { ConnectorConfig } from '../../core/connect-client.js';
import { PgferryError } from '../../core/errors.js';

export interface ConnectorDefinition {
  /** The "name" in the file, if any; CONNECTOR_NAME/--name take precedence. */
  name: string | undefined;
  config: ConnectorConfig;
}

/** The connector file is missing or malformed: a usage problem, retrying cannot help. */
export class ConnectorFileError extends PgferryError {
  readonly path: string;

  constructor(path: string, problem: string, options: { cause?: unknown } = {}) {
    super(`connector file ${path}: ${problem}`, { retriable: false, cause: options.cause });
    this.path = path;
  }
}

export async function readConnectorDefinition(path: string): Promise<ConnectorDefinition> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConnectorFileError(path, `cannot be read (${reason})`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConnectorFileError(path, `is not valid JSON (${reason})`, { cause: error });
  }
  return parseConnectorDefinition(path, json);
}

/** Accepts {"name", "config": {...}} and, for convenience, a bare config map. */
export function parseConnectorDefinition(path: string, json: unknown): ConnectorDefinition {
  if (!isPlainObject(json)) {
    throw new ConnectorFileError(
      path,
      'expected a JSON object like {"name": "...", "config": {...}}',
    );
  }
  const wrapped = isPlainObject(json.config);
  const rawConfig = wrapped ? (json.config as Record<string, unknown>) : json;
  const config = stringifyConfigValues(path, rawConfig);
  const rawName = json.name;
  if (rawName !== undefined && (typeof rawName !== 'string' || rawName.trim() === '')) {
    throw new ConnectorFileError(path, '"name" must be a non-empty string');
  }
  if (Object.keys(config).filter((key) => key !== 'name').length === 0) {
    throw new ConnectorFileError(path, 'connector config is empty');
  }
  return { name: rawName, config };
}

// Connect's config is Map<String, String>; numbers and booleans written unquoted in the file
// are sent as their JSON text so comparison with the stored strings stays exact.
function stringifyConfigValues(path: string, raw: Record<string, unknown>): ConnectorConfig {
  const config: ConnectorConfig = {};
  const bad: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value === 'string') config[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') config[key] = String(value);
    else bad.push(key);
  }
  if (bad.length > 0) {
    throw new ConnectorFileError(
      path,
      `config values must be strings, numbers or booleans; not so for: ${bad.join(', ')}`,
    );
  }
  return config;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
