// The Confluent-compatible schema registry client (Apicurio's /apis/ccompat/v7 here), set up so
// that Avro longs decode exactly (BigInt). Schemas are cached by id inside the client.
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { exactLongParseOptions } from './avro-long-type.js';
import { createHttpsAgent, type HttpTlsFiles } from './http-tls.js';
import { type BasicAuth, splitUrlCredentials } from './url-credentials.js';

export interface SchemaRegistrySettings {
  /** A `user:password@` in it becomes the client's basic auth and wins over `auth`. */
  url: string;
  auth?: BasicAuth | undefined;
  /** CA and client certificate (SCHEMA_REGISTRY_CA_FILE/_CERT_FILE/_KEY_FILE) for https://. */
  tls?: HttpTlsFiles | undefined;
}

export function createSchemaRegistryClient(settings: SchemaRegistrySettings): SchemaRegistry {
  // The client's errors repeat its host: it gets the URL without credentials.
  const { url, auth: urlAuth } = splitUrlCredentials(settings.url);
  const auth = urlAuth ?? settings.auth;
  const agent = createHttpsAgent(url, settings.tls);
  return new SchemaRegistry(
    {
      host: url,
      ...(auth ? { auth: { username: auth.username, password: auth.password } } : {}),
      ...(agent ? { agent } : {}),
    },
    {
      [SchemaType.AVRO]: {
        // The client spreads these options per parse, so the getter hands each parse a fresh
        // registry (see exactLongParseOptions).
        get registry() {
          return exactLongParseOptions().registry;
        },
        typeHook: exactLongParseOptions().typeHook,
      },
    },
  );
}
