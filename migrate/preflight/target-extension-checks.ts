// Preflight check of the source's extensions against the target server: each one installed on the
// source must be available on the target (pg_available_extensions: its control file is in the
// server's extension directory), or schema-sync cannot create it and the types, functions and
// operators it provides are missing on the target. Facts read once, judged by a pure function.
import type pg from 'pg';
import { type CheckVerdict, fail, listNames, pass } from './preflight-check.js';

export interface SourceExtension {
  name: string;
  version: string;
}

export interface TargetExtension {
  name: string;
  /** null: available (its package is installed) but not created in the target database. */
  installedVersion: string | null;
  defaultVersion: string | null;
}

/** Installed on the source; plpgsql is in every database. */
export async function readSourceExtensions(client: pg.ClientBase): Promise<SourceExtension[]> {
  const result = await client.query<SourceExtension>(
    `SELECT extname AS name, extversion AS version FROM pg_extension
      WHERE extname <> 'plpgsql' ORDER BY extname`,
  );
  return result.rows;
}

export async function readTargetExtensions(client: pg.ClientBase): Promise<TargetExtension[]> {
  const result = await client.query<TargetExtension>(
    `SELECT name, installed_version AS "installedVersion", default_version AS "defaultVersion"
       FROM pg_available_extensions ORDER BY name`,
  );
  return result.rows;
}

export function judgeExtensions(
  source: readonly SourceExtension[],
  target: readonly TargetExtension[],
): CheckVerdict {
  if (source.length === 0) return pass('the source has no extensions besides plpgsql');
  const available = new Map(target.map((e) => [e.name, e]));
  const missing = source.filter((e) => !available.has(e.name));
  if (missing.length > 0) {
    return fail(
      `${missing.length} extension(s) installed on the source are not available on the target server: ${listNames(missing.map((e) => e.name))}. Install the package that provides each there (its <name>.control must be in the server's extension directory), then run schema-sync, which creates them`,
      missing.map(
        (e) =>
          `extension ${e.name} (${e.version} on the source) is not available on the target server`,
      ),
    );
  }
  const details = source.map((e) => {
    const there = available.get(e.name) as TargetExtension;
    if (there.installedVersion === null) {
      return `${e.name} ${e.version}: available on the target (${there.defaultVersion}), schema-sync creates it`;
    }
    const same = there.installedVersion === e.version ? '' : `, the source has ${e.version}`;
    return `${e.name}: installed on the target (${there.installedVersion}${same})`;
  });
  return pass(
    `every source extension is available on the target: ${listNames(source.map((e) => e.name))}`,
    details,
  );
}
