// `node dist/main.js reload [PID]`: SIGHUP for images without `kill`. In a distroless container
// `kubectl exec ... -- node /app/dist/main.js reload` is how an operator asks the probe to re-read its files.
import { errnoOf, messageOf } from '../core/errors.js';

/** 0 sent, 1 the process could not be signalled, 2 bad arguments; the message says which. */
export function sendReload(args: readonly string[], kill: (pid: number, signal: NodeJS.Signals) => void = process.kill): { exitCode: 0 | 1 | 2; message: string } {
  const target = args[0] ?? '1';
  if (!/^[1-9]\d*$/.test(target) || args.length > 1) return { exitCode: 2, message: `reload takes one process id, not ${JSON.stringify(args.join(' '))}` };
  try {
    kill(Number(target), 'SIGHUP');
  } catch (error) {
    return { exitCode: 1, message: `cannot signal process ${target}: ${errnoOf(error, messageOf(error))}` };
  }
  return { exitCode: 0, message: `sent SIGHUP to process ${target}; its log says whether the reload took (reloaded or reload_failed)` };
}
