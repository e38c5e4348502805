// URLs as pgferry shows them: never with the `user:password@` part. Config load already takes
// credentials out of the URLs it keeps (url-credentials.ts); this is the one rule for showing any
// URL (a CLI option, a library's message) and the last net under every log line.

/**
 * `url` without its user and password, for messages, logs and reports. A value that is not a URL
 * with a host loses everything up to its last `@`: whatever precedes it could be a password.
 */
export function redactUrl(url: string): string {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed !== undefined && parsed.host !== '') {
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    // URL adds a slash after a bare host; keep the shape the caller gave.
    return url.endsWith('/') ? parsed.href : parsed.href.replace(/\/$/, '');
  }
  const at = url.lastIndexOf('@');
  if (at < 0) return url;
  const schemeEnd = url.indexOf('://');
  const keep = schemeEnd >= 0 && schemeEnd < at ? url.slice(0, schemeEnd + 3) : '';
  return `${keep}${url.slice(at + 1)}`;
}

// scheme://userinfo@ inside free text. A serialized URL percent-encodes whitespace, quotes, `/`,
// `?`, `#` and `@` in its userinfo, so the userinfo ends at the last `@` before any of those.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>`]*@/gi;

/** `text` with the credentials of every `scheme://user:password@host` in it taken out. */
export function redactUrlsInText(text: string): string {
  return text.includes('@') ? text.replace(URL_USERINFO, '$1') : text;
}
