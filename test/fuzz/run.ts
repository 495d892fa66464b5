// The long fuzz campaign: `npm run fuzz -- --runs 1000000 [--seed N] [--targets answer,router] [--hang-ms 10000]`.
// Each target runs in a worker thread, one after the other (one CPU), watched from the main thread: a worker whose
// input count stops moving for --hang-ms is stopped, and the input it was given last is printed. A failure prints
// fast-check's report: the shrunk input, and the seed and path that replay it.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { TARGETS } from './targets.js';

interface Job {
  readonly target: string;
  readonly runs: number;
  readonly seed: number;
  readonly counter: SharedArrayBuffer;
  readonly lastInput: SharedArrayBuffer;
}

const INPUT_BYTES = 64 * 1024;

if (!isMainThread) {
  const job = workerData as Job;
  const count = new Int32Array(job.counter);
  const last = new Uint8Array(job.lastInput);
  const encoder = new TextEncoder();
  const fuzzTarget = TARGETS.find((t) => t.name === job.target)!;
  const summary = fuzzTarget.run({
    numRuns: job.runs,
    seed: job.seed,
    onInput: (show) => {
      // The input is written before the target sees it, so a hang leaves it here (cut at 64 KiB).
      const written = encoder.encodeInto(show(), last.subarray(4)).written;
      new DataView(job.lastInput).setUint32(0, written);
      Atomics.add(count, 0, 1);
    },
  });
  parentPort!.postMessage(summary);
} else {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: string): string => {
    const at = args.indexOf(`--${name}`);
    return at === -1 ? fallback : args[at + 1]!;
  };
  const runs = Number(option('runs', '100000'));
  const seed = Number(option('seed', String(Date.now() % 2 ** 31)));
  const hangMs = Number(option('hang-ms', '10000'));
  const names = option('targets', TARGETS.map((t) => t.name).join(',')).split(',');
  let failures = 0;
  console.log(`fuzz: ${runs} inputs per target, seed ${seed}, node ${process.version}`);
  for (const name of names) {
    const counter = new SharedArrayBuffer(4);
    const lastInput = new SharedArrayBuffer(INPUT_BYTES + 4);
    // Node 20 does not pass tsx's loader on to a worker: the worker registers it, then imports this file.
    const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    const worker = new Worker(boot, { eval: true, workerData: { target: name, runs, seed, counter, lastInput } satisfies Job });
    const count = new Int32Array(counter);
    const outcome = await new Promise<string>((resolve) => {
      let seen = -1;
      let still = Date.now();
      const watch = setInterval(() => {
        const now = Atomics.load(count, 0);
        if (now !== seen) {
          seen = now;
          still = Date.now();
        } else if (Date.now() - still > hangMs) {
          clearInterval(watch);
          const length = new DataView(lastInput).getUint32(0);
          const input = new TextDecoder().decode(new Uint8Array(lastInput, 4, length));
          void worker.terminate();
          resolve(`${name}: HANG, no progress for ${hangMs} ms after ${now} inputs; the last input:\n${input}`);
        }
      }, 250);
      worker.once('message', (summary: import('./targets.js').RunSummary) => {
        clearInterval(watch);
        const rate = Math.round(summary.numRuns / (summary.elapsedMs / 1000));
        const head = `${name}: ${summary.numRuns} inputs in ${(summary.elapsedMs / 1000).toFixed(1)} s (${rate}/s), seed ${summary.seed}, slowest input ${summary.slowestMs.toFixed(1)} ms`;
        resolve(summary.failed ? `${head}\nFAILED\n${summary.report}` : `${head}: no failure\n  slowest: ${summary.slowestInput.slice(0, 160)}`);
      });
      worker.once('error', (error) => {
        clearInterval(watch);
        resolve(`${name}: the worker died: ${error.stack ?? error.message}`);
      });
    });
    if (/HANG|FAILED|died/.test(outcome)) failures += 1;
    console.log(outcome);
  }
  process.exitCode = failures === 0 ? 0 : 1;
}
