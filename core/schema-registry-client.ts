// The Confluent-compatible schema registry client (Apicurio's /apis/ccompat/v7 here), set up so
// that Avro longs decode exactly (BigInt). Schemas are cached by id inside the client.
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { exactLongParseOptions } from './avro-long-type.js';

export interface SchemaRegistrySettings {
  url: string;
  auth?: { username: string; password: string };
}

export function createSchemaRegistryClient(settings: SchemaRegistrySettings): SchemaRegistry {
  return new SchemaRegistry(
    { host: settings.url, ...(settings.auth ? { auth: settings.auth } : {}) },
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
