// Value types of the settings table: each parses one raw env string into a typed value and says
// what it expects when it cannot (that text is the ConfigError message).
import { z } from 'zod';
import { type FaultInjection, parseFaultInjection } from '../fault-points.js';

/** A schema that parses one raw env string into a typed value. */
export type EnvSchema<T> = z.ZodType<T, z.ZodTypeDef, string>;

export function parseText(expected = 'a non-empty value'): EnvSchema<string> {
  return z.string().trim().min(1, `expected ${expected}`);
}

export function parseSecret(): EnvSchema<string> {
  // Secrets are taken verbatim (surrounding spaces may be part of a password), except line
  // breaks: almost always a trailing newline copied from a secret file, and a baffling auth error.
  return z
    .string()
    .min(1, 'expected a non-empty value')
    .refine((value) => !/[\r\n]/.test(value), 'expected no line breaks (a trailing newline?)');
}

/** Shortest CONTROL_TOKEN: long enough that guessing it over the network is hopeless. */
export const MIN_CONTROL_TOKEN_LENGTH = 16;

/**
 * A bearer token for the control endpoint: it travels in an HTTP header, so visible ASCII only (no
 * spaces, no line breaks), and long enough not to be guessed. Never echoed in a message.
 */
export function parseControlToken(): EnvSchema<string> {
  return z
    .string()
    .refine(
      (value) => /^[\x21-\x7e]+$/.test(value) && value.length >= MIN_CONTROL_TOKEN_LENGTH,
      `expected at least ${MIN_CONTROL_TOKEN_LENGTH} visible ASCII characters without spaces (e.g. \`openssl rand -hex 32\`)`,
    )
    .refine((value) => value.length <= 1024, 'expected at most 1024 characters');
}

export function parseInteger(min: number, max: number): EnvSchema<number> {
  const expected = `expected an integer from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .transform((raw, ctx) => {
      const value = Number(raw);
      if (!/^[+-]?\d+$/.test(raw) || value < min || value > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: expected });
        return z.NEVER;
      }
      return value;
    });
}

export function parseSeconds(maxSeconds: number): EnvSchema<number> {
  const expected = `expected a number of seconds greater than 0 and at most ${maxSeconds}`;
  return z
    .string()
    .trim()
    .transform((raw, ctx) => {
      const value = Number(raw);
      if (!/^\d*\.?\d+$/.test(raw) || !(value > 0) || value > maxSeconds) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: expected });
        return z.NEVER;
      }
      return value;
    });
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

function readBoolean(raw: string): boolean | undefined {
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  return undefined;
}

export function parseBoolean(): EnvSchema<boolean> {
  return z.string().transform((raw, ctx) => {
    const value = readBoolean(raw);
    if (value === undefined) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `expected a boolean (${TRUE_WORDS.join('/')} or ${FALSE_WORDS.join('/')})`,
      });
      return z.NEVER;
    }
    return value;
  });
}

export function parseFaultInjectionSetting(): EnvSchema<FaultInjection> {
  return z.string().transform((raw, ctx) => {
    const result = parseFaultInjection(raw);
    if (typeof result === 'string') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: result });
      return z.NEVER;
    }
    return result;
  });
}

export function parseChoice<T extends string>(choices: readonly [T, ...T[]]): EnvSchema<T> {
  return z
    .string()
    .trim()
    .transform((raw, ctx) => {
      const value = raw.toLowerCase();
      const match = choices.find((choice) => choice === value);
      if (match === undefined) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `expected one of ${choices.join(', ')}`,
        });
        return z.NEVER;
      }
      return match;
    });
}

export function parseHttpUrl(): EnvSchema<string> {
  return z
    .string()
    .trim()
    .transform((raw, ctx) => {
      const url = URL.canParse(raw) ? new URL(raw) : undefined;
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: 'expected an http:// or https:// URL',
        });
        return z.NEVER;
      }
      // Callers append paths like `/connectors/x`; a trailing slash would double it.
      return url.href.replace(/\/+$/, '');
    });
}

const BROKER_PATTERN = /^(\[[0-9a-fA-F:.]+\]|[^\s:,[\]]+):(\d{1,5})$/;

export function parseBrokerList(): EnvSchema<string[]> {
  return z.string().transform((raw, ctx) => {
    const brokers = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    const bad = brokers.filter((entry) => {
      const port = Number(BROKER_PATTERN.exec(entry)?.[2] ?? 0);
      return port < 1 || port > 65535;
    });
    if (brokers.length === 0 || bad.length > 0) {
      const detail = bad.length > 0 ? ` (bad entry: ${bad.map((b) => `'${b}'`).join(', ')})` : '';
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `expected a comma-separated list of host:port, e.g. localhost:9092${detail}`,
      });
      return z.NEVER;
    }
    return brokers;
  });
}

export function parseRegExp(): EnvSchema<RegExp> {
  return z.string().transform((raw, ctx) => {
    try {
      return new RegExp(raw);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `expected a JavaScript regular expression (${reason})`,
      });
      return z.NEVER;
    }
  });
}

export function parseTopicName(): EnvSchema<string> {
  // Kafka's own rule for legal topic names.
  return z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name (letters, digits, . _ -)');
}
