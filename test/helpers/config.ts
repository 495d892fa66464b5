// Most tests judge the seed's two checks (skew and consumer count) and count their queries: the built-in checks
// added since (stalled partitions, and the skew floor's extra matcher) are switched off for them, and tested on
// their own. Never added beside CHECKS_FILE, where they are refused (the file defines every check).

/** The settings that leave the seed's two checks alone, as they were before STALL_AFTER and SKEW_MIN_LAG. */
export const SEED_ONLY: Readonly<Record<string, string>> = { STALL_AFTER: '0s', SKEW_MIN_LAG: '0' };

/** `env` with SEED_ONLY under it, unless it has a checks file. */
export function seedOnly<Value extends string | undefined>(env: Readonly<Record<string, Value>>): Record<string, Value | string> {
  return env.CHECKS_FILE === undefined ? { ...SEED_ONLY, ...env } : { ...env };
}
