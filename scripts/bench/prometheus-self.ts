// What Prometheus says about itself, for npm run bench:fleet: its own /metrics (the query counter, the engine's
// duration summary, the HTTP duration histogram) parsed into numbers, and its process found in /proc by parent and
// name, so that its CPU (utime + stime) can be read and it can be pinned to a CPU.
import { readdirSync, readFileSync } from 'node:fs';

/** One scrape of /metrics: every sample line's value, keyed by `name{labels}` exactly as written. */
export type Exposition = ReadonlyMap<string, number>;

export async function scrapeSelf(prometheusUrl: string): Promise<Exposition> {
  const response = await fetch(`${prometheusUrl}/metrics`, { signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${prometheusUrl}/metrics: HTTP ${response.status}`);
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The sum of every sample of `name` whose labels include all of `labels` (each as `key="value"`). */
export function sumOf(samples: Exposition, name: string, labels: readonly string[] = []): number {
  let sum = 0;
  for (const [key, value] of samples) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (labels.every((label) => key.includes(label))) sum += value;
  }
  return sum;
}

/** The pid of the `prometheus` process whose parent is this one (the helper spawns it directly). */
export function childPid(name: string): number {
  const found = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return comm === name && ppid === process.pid;
      } catch {
        return false; // gone meanwhile
      }
    });
  if (found.length !== 1) throw new Error(`expected one child process named ${name}, found ${found.length}`);
  return Number(found[0]);
}
