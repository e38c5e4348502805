// The last net under everything pgferry writes (stdout, stderr, logs): each configured secret,
// in every form it could take on the way out (as is, URL-encoded, JSON-escaped, base64), becomes
// "***", like a CI system masks its secrets. The first protection is structural (secrets never put
// into messages, URLs without credentials); this catches what a library or a server echoes.

/** A function from text about to be written to the same text with every secret masked. */
export type SecretMask = (text: string) => string;

/**
 * Shorter values are not masked: they would blank ordinary words all over the output, and a
 * secret that short is no secret anyway.
 */
export const MIN_MASKED_SECRET_LENGTH = 4;

const MASK = '***';

/** A mask for `secrets` (values shorter than MIN_MASKED_SECRET_LENGTH are left alone). */
export function createSecretMask(secrets: readonly string[]): SecretMask {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_MASKED_SECRET_LENGTH) continue;
    for (const form of spellSecret(secret)) forms.add(form);
  }
  if (forms.size === 0) return (text) => text;
  // Longest first, so a form that contains another is masked whole.
  const alternatives = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(alternatives.join('|'), 'g');
  return (text) => text.replace(pattern, MASK);
}

/** The ways `secret` can appear in text pgferry writes. */
function spellSecret(secret: string): string[] {
  const base64 = Buffer.from(secret, 'utf8').toString('base64');
  const jsonEscaped = JSON.stringify(secret).slice(1, -1);
  return [
    secret,
    encodeURIComponent(secret),
    spellUrlUserinfo(secret),
    jsonEscaped,
    // A JSON log line quoting an error text that was JSON already (a server's body, --json output).
    JSON.stringify(jsonEscaped).slice(1, -1),
    base64,
    // Padding depends on what follows the secret in a longer encoded value: match without it.
    base64.replace(/=+$/, ''),
  ].filter((form) => form.length >= MIN_MASKED_SECRET_LENGTH);
}

/** How a URL serializes `secret` as its password (WHATWG's userinfo encoding). */
function spellUrlUserinfo(secret: string): string {
  const url = new URL('http://host');
  url.password = secret;
  return url.password;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
