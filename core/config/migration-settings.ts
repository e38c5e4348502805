// Settings only the migration commands need: the optional source database (status, verify) and
// the rollback plan's reverse replication. Part of the settings table (settings-table.ts).

import { SSL_MODES } from './setting-choices.js';
import { defineSetting } from './setting-definition.js';
import {
  parseChoice,
  parseInteger,
  parseRegExp,
  parseSecret,
  parseText,
} from './setting-parsers.js';

export function defineReverseSettings() {
  const note = 'Used by the rollback plan (reverse replication target -> source).';
  return {
    ROLLBACK_DB_USER: defineSetting(
      {
        key: 'reverse.sourceWriter.user',
        description: `Source role the reverse pgferry writes with (INSERT/UPDATE/DELETE on the migrated tables, CREATE on the database for its bookkeeping schema, UPDATE on their sequences). ${note}`,
        presence: 'group-marker',
      },
      parseText('a user name'),
    ),
    ROLLBACK_DB_PASSWORD: defineSetting(
      {
        key: 'reverse.sourceWriter.password',
        description: `Password of ROLLBACK_DB_USER; required with it unless SOURCE_DB_HOST is loopback or a socket directory. ${note}`,
        secret: true,
      },
      parseSecret(),
    ),
    REVERSE_CONNECTOR_NAME: defineSetting(
      {
        key: 'reverse.connectorName',
        description: `Debezium connector reading the target. ${note}`,
        default: 'pgferry-reverse',
      },
      parseText('a connector name'),
    ),
    REVERSE_CONNECTOR_CONFIG_FILE: defineSetting(
      {
        key: 'reverse.connectorConfigFile',
        description: `Connector JSON for the reverse connector. ${note}`,
        default: 'connect-config/debezium-reverse.json',
      },
      parseText('a file path'),
    ),
    REVERSE_PUBLICATION: defineSetting(
      {
        key: 'reverse.publication',
        description: `Publication that \`rollback prepare\` creates on the target for the migrated tables. ${note}`,
        default: 'pgferry_reverse_publication',
      },
      parseText('a publication name'),
    ),
    REVERSE_SLOT_NAME: defineSetting(
      {
        key: 'reverse.slotName',
        description: `Replication slot of the reverse connector on the target. ${note}`,
        default: 'pgferry_reverse_slot',
      },
      parseText('a slot name'),
    ),
    REVERSE_KAFKA_GROUP_ID: defineSetting(
      {
        key: 'reverse.groupId',
        description: `Consumer group of the reverse pgferry (default: KAFKA_GROUP_ID + "-reverse"). ${note}`,
        presence: 'derived',
      },
      parseText('a consumer group id'),
    ),
    REVERSE_KAFKA_TOPIC_PATTERN: defineSetting(
      {
        key: 'reverse.topicPattern',
        description: `Topics of the reverse connector (its topic.prefix). Unset: the topics of SOURCE_SCHEMAS under the prefix rev (^rev\\.public\\..* by default). ${note}`,
        presence: 'derived',
      },
      parseRegExp(),
    ),
  };
}

export function defineSourceDbSettings() {
  const groupNote = 'Part of the optional SOURCE_DB_* group used by status/verify.';
  return {
    SOURCE_DB_HOST: defineSetting(
      {
        key: 'source.host',
        description: `Source PostgreSQL host. ${groupNote}`,
        presence: 'group-marker',
      },
      parseText('a host name'),
    ),
    SOURCE_DB_PORT: defineSetting(
      { key: 'source.port', description: `Source PostgreSQL port. ${groupNote}`, default: '5432' },
      parseInteger(1, 65535),
    ),
    SOURCE_DB_NAME: defineSetting(
      {
        key: 'source.database',
        description: `Source database name. ${groupNote}`,
        presence: 'group-member',
      },
      parseText('a database name'),
    ),
    SOURCE_DB_USER: defineSetting(
      {
        key: 'source.user',
        description: `Source database user. ${groupNote}`,
        presence: 'group-member',
      },
      parseText('a user name'),
    ),
    SOURCE_DB_PASSWORD: defineSetting(
      {
        key: 'source.password',
        description: `Source database password; required unless SOURCE_DB_HOST is loopback or a socket directory. ${groupNote}`,
        secret: true,
      },
      parseSecret(),
    ),
    SOURCE_DB_SSLMODE: defineSetting(
      {
        key: 'source.sslMode',
        description: `libpq-style sslmode for the source connection (unset: verify-full when SOURCE_DB_HOST is not loopback or a socket directory, prefer on this machine). ${groupNote}`,
        presence: 'derived',
      },
      parseChoice(SSL_MODES),
    ),
    SOURCE_DB_SSLROOTCERT: defineSetting(
      {
        key: 'source.sslRootCert',
        description: `CA bundle (PEM file) to verify the source server (unset: the system CAs). ${groupNote}`,
      },
      parseText('a file path'),
    ),
    SOURCE_DB_SSLCERT: defineSetting(
      {
        key: 'source.sslCert',
        description: `Client certificate (PEM file) for the source; set together with SOURCE_DB_SSLKEY. ${groupNote}`,
      },
      parseText('a file path'),
    ),
    SOURCE_DB_SSLKEY: defineSetting(
      {
        key: 'source.sslKey',
        description: `Private key (PEM file, unencrypted) of SOURCE_DB_SSLCERT. ${groupNote}`,
      },
      parseText('a file path'),
    ),
  };
}
