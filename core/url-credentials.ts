// HTTP basic credentials and URLs: `https://user:password@host` is how many tools take them, but
// fetch refuses such a URL (and its error repeats it). pgferry takes the credentials out of the
// URL and sends them as an `Authorization: Basic` header instead.

export interface BasicAuth {
  username: string;
  password: string;
}

export interface SplitUrl {
  /** The URL without `user:password@`, unchanged otherwise. */
  url: string;
  /** The credentials the URL carried, percent-decoded; undefined when it carried none. */
  auth: BasicAuth | undefined;
}

/** Takes `user:password@` out of `url`; a value that does not parse is returned as is. */
export function splitUrlCredentials(url: string): SplitUrl {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed === undefined || (parsed.username === '' && parsed.password === '')) {
    return { url, auth: undefined };
  }
  const auth = {
    username: decodeUrlPart(parsed.username),
    password: decodeUrlPart(parsed.password),
  };
  parsed.username = '';
  parsed.password = '';
  return { url: url.endsWith('/') ? parsed.href : parsed.href.replace(/\/$/, ''), auth };
}

/** The `Authorization` header value for basic auth (RFC 7617: UTF-8, base64). */
export function formatBasicAuthorization(auth: BasicAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
}

function decodeUrlPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    // A stray `%` the URL parser kept as is: the text as written is the best guess.
    return part;
  }
}
