// The short fuzz campaign `npm test` runs: each target of targets.ts on a fixed seed (the same inputs every run, so a
// failure here is a change in the code) and on a fresh seed (new inputs every run; the seed is in the report, and
// `npm run fuzz -- --seed N --targets NAME` replays it). FUZZ_RUNS sets the inputs per seed.
// The long campaign and its results: BENCHMARKS.md, "Fuzzing".
import assert from 'node:assert/strict';
import test from 'node:test';
import { TARGETS } from './targets.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 3_000);
const FIXED_SEED = 20_261_201;

for (const target of TARGETS) {
  for (const [kind, seed] of [
    ['fixed', FIXED_SEED],
    ['fresh', Math.floor(Math.random() * 2 ** 31)],
  ] as const) {
    test(`fuzz ${target.name}: ${RUNS} inputs, ${kind} seed ${seed}`, () => {
      const summary = target.run({ numRuns: RUNS, seed });
      assert.equal(summary.failed, false, `${summary.report}\nreplay: npm run fuzz -- --seed ${seed} --targets ${target.name} --runs ${RUNS}`);
      assert.equal(summary.numRuns, RUNS);
    });
  }
}
