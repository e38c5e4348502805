// The Confluent-compatible schema registry client (Apicurio's /apis/ccompat/v7 here), set up so
// that Avro longs decode exactly (BigInt). Schemas are cached by id inside the client.
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { bigintLongType } from './avro-long-type.js';

export interface SchemaRegistrySettings {
  url: string;
  auth?: { username: string; password: string };
}

export function createSchemaRegistryClient(settings: SchemaRegistrySettings): SchemaRegistry {
  return new SchemaRegistry(
    { host: settings.url, ...(settings.auth ? { auth: settings.auth } : {}) },
    {
      [SchemaType.AVRO]: {
        // A fresh avsc registry per parsed schema: avsc records every named type in the registry
        // it is given, so one shared object makes the second parse of `cdc.x.Key` fail with
        // "duplicate type name". The client spreads these options per parse, calling the getter.
        get registry() {
          return { long: bigintLongType };
        },
      },
    },
  );
}
