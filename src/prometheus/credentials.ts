// Credentials and TLS material for Prometheus, from the files the configuration names. Secret files are read
// again for every query, so a rotated Kubernetes token or password keeps working without a restart.
import { readFileSync } from 'node:fs';
import { ConfigError, CredentialsError, errnoOf, messageOf } from '../core/errors.js';
import type { Connection } from '../core/settings.js';

// node:tls and node:crypto take ~6 ms to load, before the server listens (start-up is benchmarked), and most
// sites configure no TLS files: they are loaded only when there is TLS material to check.
const tls = (): typeof import('node:tls') => process.getBuiltinModule('node:tls');
const crypto = (): typeof import('node:crypto') => process.getBuiltinModule('node:crypto');

/** What the undici Agent needs to trust Prometheus and prove who we are. */
export interface TlsOptions {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly rejectUnauthorized: boolean;
}

/** The headers every query carries: auth read fresh from its file, plus the configured extra headers. */
export function requestHeaders(connection: Connection, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): () => Record<string, string> {
  return () => {
    const headers: Record<string, string> = { ...connection.headers };
    if (connection.bearerTokenFile !== null) {
      const token = readSecret(readFile, connection.bearerTokenFile, 'bearer token').trim();
      if (token === '') throw new CredentialsError(`the bearer token file ${connection.bearerTokenFile} is empty`);
      headers.authorization = `Bearer ${token}`;
    }
    if (connection.username !== null && connection.passwordFile !== null) {
      // Only the line ending an editor or `echo` adds is dropped: a password may have spaces.
      const password = readSecret(readFile, connection.passwordFile, 'password').replace(/\r?\n$/, '');
      headers.authorization = `Basic ${Buffer.from(`${connection.username}:${password}`, 'utf8').toString('base64')}`;
    }
    return headers;
  };
}

function readSecret(readFile: (path: string) => string, path: string, what: string): string {
  try {
    return readFile(path);
  } catch (error) {
    // The path and the errno, never the content.
    throw new CredentialsError(`cannot read the ${what} file ${path} (${errnoOf(error, 'error')})`);
  }
}

/**
 * The TLS options, read and checked once at start-up: a key that does not match its certificate, or PEM that
 * does not parse, stops the process with a ConfigError instead of failing every query.
 */
export function tlsOptions(connection: Connection, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): TlsOptions | undefined {
  if (connection.caFile === null && connection.certFile === null && !connection.insecureSkipVerify) return undefined;
  const options: TlsOptions = {
    ...(connection.caFile === null ? {} : { ca: readFile(connection.caFile) }),
    ...(connection.certFile === null || connection.keyFile === null ? {} : { cert: readFile(connection.certFile), key: readFile(connection.keyFile) }),
    rejectUnauthorized: !connection.insecureSkipVerify,
  };
  // createSecureContext skips CA certificates it cannot parse without a word: every one is parsed here, so a
  // truncated or mangled bundle is refused instead of failing every handshake later.
  if (options.ca !== undefined) {
    const problem = unparsableCertificates(options.ca);
    if (problem !== null) throw new ConfigError([{ variable: 'PROMETHEUS_CA_FILE', value: connection.caFile!, expected: `PEM CA certificates that parse (${problem})` }]);
  }
  try {
    tls().createSecureContext(options);
  } catch (error) {
    const variable = connection.certFile !== null && /key|cert/i.test(String(error)) ? 'PROMETHEUS_KEY_FILE' : 'PROMETHEUS_CA_FILE';
    const value = variable === 'PROMETHEUS_KEY_FILE' ? connection.keyFile! : (connection.caFile ?? '');
    throw new ConfigError([{ variable, value, expected: `PEM that parses and matches (${messageOf(error)})` }]);
  }
  return options;
}

/** Why a PEM bundle is not a list of certificates that parse, or null when it is. */
function unparsableCertificates(pem: string): string | null {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'no CERTIFICATE block';
  for (const [index, block] of blocks.entries()) {
    try {
      new (crypto().X509Certificate)(block);
    } catch (error) {
      return `certificate ${index + 1} of ${blocks.length}: ${messageOf(error)}`;
    }
  }
  return null;
}
