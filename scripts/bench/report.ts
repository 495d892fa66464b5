// The figures as a Markdown section, and the section written into BENCHMARKS.md between markers so that the
// rest of the file (what each change bought, the soak figures) is left as it is.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** One line of the table. */
export interface Row {
  readonly figure: string;
  readonly probe: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly goal: string;
  /** undefined: nothing to meet (reported only). */
  readonly met: boolean | undefined;
  /** The raw runs and anything odd about them, listed under the table. */
  readonly details: readonly string[];
}

export interface Machine {
  readonly date: string;
  readonly cpus: string;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly node: string;
  readonly wrk: string;
  readonly prometheus: string;
  /** 1-minute load average when the run began and when it ended: how busy the machine was. */
  readonly loadAverage: string;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The median of probe[i] / baseline[i]: each probe run against the baseline run next to it in time. */
export function pairedRatio(probe: readonly number[], baseline: readonly number[]): number {
  return median(probe.map((value, index) => value / baseline[index]!));
}

export const fixed = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : String(value));
export const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');
export const list = (values: readonly number[], format: (value: number) => string): string => values.map(format).join(', ');

export function renderSection(options: { machine: Machine; command: string; quick: boolean; method: readonly string[]; rows: readonly Row[] }): string {
  const { machine, rows } = options;
  const lines = [
    `## ${options.quick ? 'Quick run (tiny durations: proves the script works, the figures mean little)' : 'Figures'}`,
    '',
    `- Date: ${machine.date}`,
    `- Machine: ${machine.cpus} CPUs (nproc), ${machine.cpuModel}, Linux ${machine.kernel}; load average ${machine.loadAverage}`,
    `- Node ${machine.node}, ${machine.wrk}, ${machine.prometheus}`,
    `- Command: \`${options.command}\``,
    ...options.method.map((line) => `- ${line}`),
    '',
    '| figure | probe | baseline | ratio | goal | met? |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (row) => `| ${row.figure} | ${row.probe} | ${row.baseline} | ${row.ratio} | ${row.goal} | ${row.met === undefined ? 'reported' : row.met ? 'yes' : '**no**'} |`,
    ),
    '',
    'Runs, in the order they ran:',
    '',
    ...rows.flatMap((row) => row.details.map((detail, index) => (index === 0 ? `- ${row.figure}: ${detail}` : `  ${detail}`))),
    '',
  ];
  return lines.join('\n');
}

const BEGIN = '<!-- bench:begin (written by npm run bench -- --write) -->';
const END = '<!-- bench:end -->';

/** Puts `section` between the markers of `file` (replacing what was there), or appends it; creates the file. */
export function writeSection(file: string, section: string, markers: { readonly begin: string; readonly end: string } = { begin: BEGIN, end: END }): void {
  const { begin: BEGIN_MARK, end: END_MARK } = markers;
  const block = `${BEGIN_MARK}\n${section}${END_MARK}\n`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const begin = current.indexOf(BEGIN_MARK);
  const end = current.indexOf(END_MARK);
  const next = begin !== -1 && end > begin ? current.slice(0, begin) + block + current.slice(end + END_MARK.length + 1) : `${current.trimEnd()}\n\n${block}`;
  writeFileSync(file, next);
}
