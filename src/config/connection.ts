// How the probe reaches Prometheus: the URL, auth and header parsers, and the rules between the connection
// variables (one kind of auth, a certificate with its key, TLS settings only with https). Pure: whether the
// files can be read is files.ts's question.
import { describeHeaders } from '../core/settings.js';
import { accepted, type Parser, refused } from './parse.js';

/** PROMETHEUS_URL parsed: as given (it may carry credentials) and as it may be shown. */
export interface PrometheusUrl {
  /** The trimmed text, userinfo included: the client needs it. */
  readonly given: string;
  /** Without userinfo and trailing slash: the form logs and /status show. */
  readonly target: string;
  readonly https: boolean;
}

const URL_EXPECTED = 'an http:// or https:// URL such as http://prometheus:9090, without query or fragment';

export const parsePrometheusUrl: Parser<PrometheusUrl> = (text) => {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return refused(URL_EXPECTED);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.search !== '' || url.hash !== '') {
    return refused(URL_EXPECTED);
  }
  url.username = '';
  url.password = '';
  return accepted({ given: text.trim(), target: url.href.replace(/\/$/, ''), https: url.protocol === 'https:' });
};

/**
 * Hides anything that may be a credential in a URL-like string, even one that does not parse: everything
 * between the scheme and the last "@" (a password may hold "/", "#", "?" or spaces).
 */
export function redactUserinfo(text: string): string {
  const at = text.lastIndexOf('@');
  if (at === -1) return text;
  const scheme = /^\s*[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? '';
  return `${scheme.trim()}***${text.slice(at)}`;
}

/** Whether PROMETHEUS_URL's text carries user:password@, which counts as basic auth even when the URL is refused. */
export function hasUserinfo(urlText: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(urlText.trim());
}

/** Extra request headers by lower-cased name. */
export type Headers = Readonly<Record<string, string>>;

// Header names as RFC 9110 tokens; those that would break the request itself are refused.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RESERVED_HEADERS = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);

/** `Name=value,Name2=value2`; lower-cased names, each once. */
export const parseHeaders: Parser<Headers> = (text) => {
  const headers: Record<string, string> = {};
  if (text.trim() === '') return accepted(headers);
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq === -1 ? undefined : eq).trim();
    const value = eq === -1 ? '' : pair.slice(eq + 1).trim();
    const lower = name.toLowerCase();
    if (eq === -1 || !TOKEN.test(name) || /[\r\n\0]/.test(value) || RESERVED_HEADERS.has(lower) || lower in headers) {
      return refused('comma-separated Name=value pairs, each name once, not Host, Content-Type, Content-Length or hop-by-hop headers');
    }
    headers[lower] = value;
  }
  return accepted(headers);
};

/** PROMETHEUS_HEADERS as a problem may show it: values may be secret, so only the names are kept. */
export function hideHeaderValues(text: string): string {
  return text
    .split(',')
    .map((pair) => {
      const [name = ''] = pair.split('=');
      return `${name.trim()}=***`;
    })
    .join(',');
}

/** Whether a file's text holds a PEM block: a DER file or a path mix-up fails here rather than at the first query. */
export function isPem(text: string): boolean {
  return text.includes('-----BEGIN ');
}

/** The connection variables as parsed, with null where a variable is unset or was refused. */
export interface ConnectionInputs {
  readonly url: PrometheusUrl | null;
  readonly userinfoInUrl: boolean;
  readonly bearerTokenFile: string | null;
  readonly username: string | null;
  readonly passwordFile: string | null;
  readonly headers: Headers | null;
  readonly caFile: string | null;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly insecureSkipVerify: boolean;
}

/** A connection variable that a rule refuses; `value` replaces the variable's text where that would mislead. */
export interface ConnectionProblem {
  readonly variable:
    | 'PROMETHEUS_BEARER_TOKEN_FILE'
    | 'PROMETHEUS_USERNAME'
    | 'PROMETHEUS_PASSWORD_FILE'
    | 'PROMETHEUS_HEADERS'
    | 'PROMETHEUS_CA_FILE'
    | 'PROMETHEUS_CERT_FILE'
    | 'PROMETHEUS_KEY_FILE'
    | 'PROMETHEUS_TLS_INSECURE_SKIP_VERIFY';
  readonly expected: string;
  readonly value?: string;
}

/** Basic auth needs both halves, and only one kind of auth may be configured. */
export function authProblems(inputs: ConnectionInputs): ConnectionProblem[] {
  const { username, passwordFile, bearerTokenFile, userinfoInUrl } = inputs;
  const problems: ConnectionProblem[] = [];
  // The missing half has no text of its own, so the problem shows it as empty.
  if (username !== null && passwordFile === null) {
    problems.push({ variable: 'PROMETHEUS_PASSWORD_FILE', expected: 'a readable file when PROMETHEUS_USERNAME is set', value: '' });
  }
  if (username === null && passwordFile !== null) {
    problems.push({ variable: 'PROMETHEUS_USERNAME', expected: 'a user name when PROMETHEUS_PASSWORD_FILE is set', value: '' });
  }
  if (username !== null && userinfoInUrl) problems.push({ variable: 'PROMETHEUS_USERNAME', expected: 'unset when PROMETHEUS_URL carries user:password@' });
  if (bearerTokenFile !== null && (username !== null || userinfoInUrl)) {
    problems.push({
      variable: 'PROMETHEUS_BEARER_TOKEN_FILE',
      expected: 'unset when basic auth is configured (PROMETHEUS_USERNAME or user:password@ in PROMETHEUS_URL): choose one',
    });
  }
  return problems;
}

/** An Authorization header would fight the auth the probe adds itself. */
export function authorizationHeaderProblems(inputs: ConnectionInputs): ConnectionProblem[] {
  const { headers, bearerTokenFile, username, userinfoInUrl } = inputs;
  if (headers === null || !('authorization' in headers)) return [];
  if (bearerTokenFile === null && username === null && !userinfoInUrl) return [];
  return [{ variable: 'PROMETHEUS_HEADERS', expected: 'no Authorization header when another kind of auth is configured', value: describeHeaders(headers) }];
}

/** A client certificate is useless without its key, and the other way round. */
export function certificatePairProblems(inputs: ConnectionInputs): ConnectionProblem[] {
  if (inputs.certFile !== null && inputs.keyFile === null) return [{ variable: 'PROMETHEUS_KEY_FILE', expected: 'the private key of PROMETHEUS_CERT_FILE', value: '' }];
  if (inputs.certFile === null && inputs.keyFile !== null) return [{ variable: 'PROMETHEUS_CERT_FILE', expected: 'the certificate of PROMETHEUS_KEY_FILE', value: '' }];
  return [];
}

/** TLS settings beside an http:// URL would silently do nothing. */
export function httpsOnlyProblems(inputs: ConnectionInputs): ConnectionProblem[] {
  if (inputs.url === null || inputs.url.https) return [];
  const problems: ConnectionProblem[] = [];
  if (inputs.caFile !== null) problems.push({ variable: 'PROMETHEUS_CA_FILE', expected: 'set only with an https:// PROMETHEUS_URL' });
  if (inputs.certFile !== null) problems.push({ variable: 'PROMETHEUS_CERT_FILE', expected: 'set only with an https:// PROMETHEUS_URL' });
  if (inputs.keyFile !== null) problems.push({ variable: 'PROMETHEUS_KEY_FILE', expected: 'set only with an https:// PROMETHEUS_URL' });
  if (inputs.insecureSkipVerify) problems.push({ variable: 'PROMETHEUS_TLS_INSECURE_SKIP_VERIFY', expected: 'true only with an https:// PROMETHEUS_URL' });
  return problems;
}
