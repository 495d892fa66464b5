// The Prometheus client the configuration describes; the server and `check` use the same one. A module of its
// own so that undici, the heaviest part of start-up, is loaded only once the server already answers /health.
import type { Config } from '../core/settings.js';
import { createPrometheusClient, type PrometheusClient } from './client.js';
import { requestHeaders, type TlsOptions } from './credentials.js';

/** `tls`: the options tlsOptions() read and checked before anything listened. */
export function clientFor(config: Config, tls: TlsOptions | undefined): PrometheusClient {
  return createPrometheusClient({
    url: config.prometheusUrl,
    timeoutMs: config.queryTimeoutMs,
    // Idle connections outlive the interval so each tick reuses them; undici drops any the server closes.
    keepAliveMs: Math.min(2 * config.checkIntervalMs + config.queryTimeoutMs, 600_000),
    headers: requestHeaders(config.connection),
    acceptPartial: config.acceptPartial,
    tls,
  });
}
