// Preflight check of the connector's numeric settings: only `decimal.handling.mode=string` carries
// a numeric exactly (precise drops a variable-scale numeric's trailing zeros and sends NaN/±Infinity
// as NULL, double rounds), and pgferry tells string-mode numerics from text only by the propagated
// source column type. Judged on the registered connector's config, else on the connector file.
import { readFile } from 'node:fs/promises';
import type { ConnectorConfig } from '../../core/connect-client.js';
import { type CheckVerdict, fail, pass, warn } from './preflight-check.js';

/** Whether a `column.propagate.source.type` list surely covers every column (`.*` or `.+`). */
function propagatesEveryColumn(list: string | undefined): boolean {
  if (list === undefined) return false;
  return list
    .split(',')
    .map((e) => e.trim())
    .some((e) => e === '.*' || e === '.+');
}

export function judgeNumericSettings(config: ConnectorConfig, from: string): CheckVerdict {
  const mode = config['decimal.handling.mode'] ?? 'precise';
  const propagate = config['column.propagate.source.type'];
  if (mode === 'string') {
    if (propagatesEveryColumn(propagate)) {
      return pass(
        `${from}: decimal.handling.mode=string with column.propagate.source.type=${propagate}: numerics arrive digit for digit, NaN and ±Infinity included`,
      );
    }
    return fail(
      `${from}: decimal.handling.mode=string needs column.propagate.source.type covering the numeric columns (set it to .*): without it a numeric arrives as plain text, and pgferry would create text target columns and write POSITIVE_INFINITY into numeric ones`,
    );
  }
  if (mode === 'precise') {
    return warn(
      `${from}: decimal.handling.mode=precise drops the trailing zeros of numeric columns without a declared scale (16.0000000000000000 arrives as 16) and sends numeric NaN/±Infinity as NULL: verify then reports those rows and the cutover gate refuses. Set decimal.handling.mode=string (and column.propagate.source.type=.*), then pgferry connector apply`,
    );
  }
  return fail(
    `${from}: decimal.handling.mode=${mode} turns numerics into floating point, which rounds them: set decimal.handling.mode=string (and column.propagate.source.type=.*)`,
  );
}

/**
 * The connector file's config map ({"name", "config"} or a bare map), values as text. Read here,
 * not through migrate/connector/ (another family): only the two numeric keys matter.
 */
export async function readConnectorFileConfig(path: string): Promise<ConnectorConfig> {
  const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  const raw = (
    typeof json.config === 'object' && json.config !== null ? json.config : json
  ) as Record<string, unknown>;
  const config: ConnectorConfig = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      config[key] = String(value);
    }
  }
  return config;
}
