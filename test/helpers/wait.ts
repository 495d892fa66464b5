// Waiting without guessing: a loopback port that was free a moment ago, and a bounded poll that says what it last
// saw when it gives up. Every wait of the tests goes through waitFor (or the fake clock); none sleeps and hopes.
import { type AddressInfo, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A port that was free a moment ago on 127.0.0.1 (bound to port 0, read, closed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/**
 * Polls fn until it returns something other than undefined, for at most timeoutMs (default 10 s). fn may report
 * what it saw through `seen`; the timeout error names `what` and the last value seen or the last error thrown.
 */
export async function waitFor<T>(
  what: string,
  fn: (seen: (value: unknown) => void) => Promise<T | undefined>,
  options?: { timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const timeoutMs = options?.timeoutMs ?? 10_000;
  const intervalMs = options?.intervalMs ?? 100;
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  const seen = (value: unknown): void => {
    last = value;
  };
  for (;;) {
    try {
      const result = await fn(seen);
      if (result !== undefined) return result;
    } catch (error) {
      last = error;
    }
    if (performance.now() + intervalMs > deadline) break;
    await sleep(intervalMs);
  }
  const description = last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last);
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${description}`);
}
