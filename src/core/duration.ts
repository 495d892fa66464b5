// Durations as operators write them: "500ms", "10s", "5m", "1h", or a sum such as "1m30s" (Prometheus' form).

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
// Sticky, so each part must start where the last ended; made per call, since a regex with /y carries lastIndex.
const PART_SOURCE = String.raw`(\d+(?:\.\d+)?)(ms|s|m|h|d)`;

/** Milliseconds for a duration string, or undefined when it is not one. "0s" is 0. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const part = new RegExp(PART_SOURCE, 'y');
  let total = 0;
  while (part.lastIndex < trimmed.length) {
    const match = part.exec(trimmed);
    if (match === null) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/** The shortest exact form of a duration, valid both for people and as a PromQL range ("90s", "5m", "1500ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Node's timers hold at most 2^31-1 ms (24.8 days); a longer one fires after 1 ms, every time. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
