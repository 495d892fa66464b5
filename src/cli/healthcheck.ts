// `node dist/main.js healthcheck`: a Docker HEALTHCHECK for images without curl or a shell. It asks the local
// server and never starts one.
import { request } from 'node:http';

/** The address to reach a server listening on `host`: wildcard addresses are reached through loopback. */
function localAddress(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host.replace(/^\[(.*)\]$/, '$1');
}

/** 0 when GET `path` answers 200 within `timeoutMs`, 1 otherwise (Docker: 0 healthy, 1 unhealthy). */
export function healthcheck(options: { host: string; port: number; path: string; timeoutMs: number }): Promise<{ exitCode: 0 | 1; detail: string }> {
  return new Promise((resolve) => {
    // An AbortSignal, not the `timeout` option: that one only emits an event and aborts nothing.
    const signal = AbortSignal.timeout(options.timeoutMs);
    const req = request({ host: localAddress(options.host), port: options.port, path: options.path, method: 'GET', signal, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ exitCode: res.statusCode === 200 ? 0 : 1, detail: `${options.path} answered ${res.statusCode}` }));
      res.on('error', (error) => resolve({ exitCode: 1, detail: error.message }));
    });
    req.on('error', (error) => resolve({ exitCode: 1, detail: signal.aborted ? `no answer within ${options.timeoutMs} ms` : error.message }));
    req.end();
  });
}
