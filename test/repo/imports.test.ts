// The shape of the source, kept honest: src/core/ is a leaf (it imports nothing outside itself, nothing from node:*,
// no package), holds no module-level mutable state, never reads the clock, and no import cycle exists anywhere in
// src/. Each rule is also run over a small bad example, so a rule that matches nothing cannot pass by accident.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const CORE = join(SRC, 'core');

/** Every .ts file under `dir`, as absolute paths. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Comments out, so that a word in a comment ("process.env", "import ... from") is not taken for code. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/**
 * The specifiers a module imports: static imports and re-exports (type-only ones too: a type import still ties
 * the modules together), side-effect imports, and dynamic import().
 */
export function importsOf(text: string): string[] {
  const code = withoutComments(text);
  const found: string[] = [];
  for (const match of code.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm)) found.push(match[1]!);
  for (const match of code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) found.push(match[1]!);
  for (const match of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(match[1]!);
  for (const match of code.matchAll(/\bgetBuiltinModule\(\s*['"]([^'"]+)['"]/g)) found.push(match[1]!);
  return found;
}

/** Where a relative specifier of `from` points, as a .ts path; null for packages and node:*. */
function resolveSpecifier(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  return resolve(dirname(from), specifier).replace(/\.js$/, '.ts');
}

/** Why a core module breaks the leaf rule: each bad import, named. */
export function coreImportProblems(file: string, text: string, coreDir: string): string[] {
  return importsOf(text).flatMap((specifier) => {
    const target = resolveSpecifier(file, specifier);
    if (target === null) return [`imports ${specifier} (the core imports no package and nothing from node:*)`];
    return relative(coreDir, target).startsWith('..') ? [`imports ${specifier}, outside src/core`] : [];
  });
}

// Globals that reach the world or keep state across calls: the core is handed time and values instead.
const IMPURE = [
  [/\bprocess\./, 'process'],
  [/\bBuffer\b/, 'Buffer (a Node global)'],
  [/\bDate\.now\b|\bnew Date\(\s*\)/, 'the wall clock'],
  [/\bperformance\.now\b/, 'the monotonic clock'],
  [/\bset(?:Timeout|Interval|Immediate)\b/, 'timers'],
  [/\bMath\.random\b/, 'randomness'],
  [/\brequire\(/, 'require'],
  [/\bglobalThis\b/, 'globalThis'],
] as const;

/** Module-level state and impure globals in a core module. */
export function corePurityProblems(text: string): string[] {
  const code = withoutComments(text);
  const problems: string[] = [];
  for (const [pattern, what] of IMPURE) if (pattern.test(code)) problems.push(`uses ${what}`);
  for (const line of code.split('\n')) {
    // Only top-level statements start at column 0.
    if (/^(?:export\s+)?(?:let|var)\s/.test(line)) problems.push(`module-level variable: ${line.trim()}`);
    if (/^(?:export\s+)?const\s+\w+\s*=\s*\/.*\/[a-z]*[gy][a-z]*\s*;/.test(line)) problems.push(`module-level regex with /g or /y keeps lastIndex: ${line.trim()}`);
    const collection = /^(?:export\s+)?const\s+(\w+)\s*(:\s*[^=]+)?=\s*new\s+(Map|Set)\b/.exec(line);
    if (collection !== null && !/Readonly(?:Map|Set)/.test(collection[2] ?? '')) {
      problems.push(`module-level ${collection[3]} ${collection[1]} not typed Readonly${collection[3]}: it could be changed by any caller`);
    }
  }
  return problems;
}

/** Every cycle in a graph of modules, each as the list of modules around it. */
export function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (state.get(node) === undefined) visit(node);
  return cycles;
}

const files = sourceFiles(SRC);
const name = (path: string): string => relative(SRC, path);

test('src/core imports nothing outside src/core: no edge, no package, nothing from node:*', () => {
  const coreFiles = files.filter((file) => !relative(CORE, file).startsWith('..'));
  assert.ok(coreFiles.length >= 10, `found only ${coreFiles.length} core files: is the path right?`);
  const problems = coreFiles.flatMap((file) => coreImportProblems(file, readFileSync(file, 'utf8'), CORE).map((problem) => `${name(file)}: ${problem}`));
  assert.deepEqual(problems, []);
});

test('src/core holds no module-level mutable state and never reads the clock or the process', () => {
  const coreFiles = files.filter((file) => !relative(CORE, file).startsWith('..'));
  const problems = coreFiles.flatMap((file) => corePurityProblems(readFileSync(file, 'utf8')).map((problem) => `${name(file)}: ${problem}`));
  assert.deepEqual(problems, []);
});

test('no import cycle anywhere in src/', () => {
  const graph = new Map(
    files.map((file) => [
      name(file),
      importsOf(readFileSync(file, 'utf8'))
        .map((specifier) => resolveSpecifier(file, specifier))
        .filter((target): target is string => target !== null)
        .map(name),
    ]),
  );
  // Every relative import resolves to a file that exists: a typo would otherwise hide an edge of the graph.
  const missing = [...graph].flatMap(([from, targets]) => targets.filter((target) => !graph.has(target)).map((target) => `${from} -> ${target}`));
  assert.deepEqual(missing, []);
  assert.deepEqual(
    cyclesOf(graph).map((cycle) => cycle.join(' -> ')),
    [],
  );
});

test('the rules catch what they forbid (each run over a bad example)', () => {
  const core = '/repo/src/core';
  const bad = [
    "import { readFileSync } from 'node:fs';",
    "import type { Config } from '../config/load.js';",
    "export { createMonitor } from '../monitor.js';",
    "import 'undici';",
    "const x = await import('node:tls');",
    "import { ok } from './checks.js';",
    '// import { fine } from "../in-a-comment.js";',
  ].join('\n');
  assert.deepEqual(coreImportProblems(`${core}/bad.ts`, bad, core), [
    'imports node:fs (the core imports no package and nothing from node:*)',
    'imports ../config/load.js, outside src/core',
    'imports ../monitor.js, outside src/core',
    'imports undici (the core imports no package and nothing from node:*)',
    'imports node:tls (the core imports no package and nothing from node:*)',
  ]);
  const impure = [
    'let cache = 0;',
    'const SEEN = new Set<string>();',
    'const OK: ReadonlySet<string> = new Set();',
    'const WORD = /a/g;',
    'export const t = () => Date.now();',
    '// process.env in a comment',
  ].join('\n');
  assert.deepEqual(corePurityProblems(impure), [
    'uses the wall clock',
    'module-level variable: let cache = 0;',
    'module-level Set SEEN not typed ReadonlySet: it could be changed by any caller',
    'module-level regex with /g or /y keeps lastIndex: const WORD = /a/g;',
  ]);
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  assert.deepEqual(cyclesOf(graph), [['a', 'b', 'c', 'a']]);
  assert.deepEqual(
    cyclesOf(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    [],
  );
});
