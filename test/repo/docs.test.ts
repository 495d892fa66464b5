// The operators' documentation checked against what it documents:
//
// - every environment variable named in README.md, docs/*.md and monitoring/**/*.md (in a `NAME=value`
//   assignment, a YAML key of a ```yaml block, or an UPPER_SNAKE name in code) is one the probe reads: VARIABLES
//   in src/config/load.ts, read at test time, never copied here; other programs' names are on a short allowlist;
// - every `node dist/main.js <subcommand> [options]` (also in exec form, and `docker run`/`docker compose run` of
//   the probe's image) is one `node dist/main.js --help` lists, and every `npm run <script>` is in package.json;
// - every ```yaml and ```dockerfile block of docs/OPERATIONS.md says what it excerpts (`# excerpt of FILE`, or
//   `# variant of FILE, service|container NAME; replaced: KEY, ...`) and is a subset of that shipped file;
// - every environment block of docs/OPERATIONS.md is a configuration the probe accepts, the production profile is
//   the shipped one, and the cost table's query rates follow from the profiles' CHECK_INTERVAL.
//
// YAML is read by python3-yaml, as in test/repo/deploy.test.ts. Needs `npm run build` (npm test does it) for --help.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { loadConfig, VARIABLES } from '../../src/config/load.js';
import { parseDuration } from '../../src/core/duration.js';
import { PROMETHEUS_ERROR_CODES } from '../../src/core/errors.js';
import { MAIN } from '../helpers/process.js';
import { parseYaml } from '../helpers/yaml.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const OPERATIONS = 'docs/OPERATIONS.md';
const ONE_LINERS = 'monitoring/docs/ONE_LINER_FIXES.md';
const DOCKERFILE = 'Dockerfile.distroless';
const BUILD_SCRIPT = 'scripts/build-image.sh';
const COMPOSE = 'compose.yaml';
const K8S_DIR = 'deploy/kubernetes';

/**
 * UPPER_SNAKE names the documentation may use that are not the probe's variables. Keep it short: a name belongs
 * here only if another program reads it.
 */
const NOT_PROBE_VARIABLES: ReadonlyMap<string, string> = new Map([
  ['KAFKA_BROKERS', "the consumer's own setting (the seed, deploy/kubernetes/deployment.yaml)"],
  ['KAFKA_TOPIC', "the consumer's own setting (the seed, deploy/kubernetes/deployment.yaml)"],
  ['AUTOHEAL_CONTAINER_LABEL', 'willfarrell/autoheal (compose.yaml)'],
  ['AUTOHEAL_INTERVAL', 'willfarrell/autoheal (compose.yaml)'],
  ['AUTOHEAL_START_PERIOD', 'willfarrell/autoheal (compose.yaml)'],
  ['AUTOHEAL_DEFAULT_STOP_TIMEOUT', 'willfarrell/autoheal (compose.yaml)'],
  ['AUTOHEAL_ONLY_MONITOR_RUNNING', 'willfarrell/autoheal, from commit afb2c8b on (compose.yaml)'],
  ['ALPINE_VERSION', "willfarrell/autoheal's Dockerfile build argument (compose.yaml)"],
  ['DOCKER_GID', "interpolated by docker compose in compose.yaml (the autoheal user's group)"],
  ['CI', "the test suite's switch: missing tools fail instead of skipping"],
  ['XDG_CACHE_HOME', "the shell's cache directory (docs/IMAGE.md)"],
  ['SSL_CERT_FILE', "OpenSSL's, set by the distroless base (docs/IMAGE.md)"],
  ['NODE_EXTRA_CA_CERTS', "Node.js' own, in the offline build base (docs/IMAGE.md)"],
]);

// ---------------------------------------------------------------------------------------------------------------
// Markdown

interface Fence {
  readonly lang: string;
  readonly body: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
}

interface Markdown {
  readonly file: string;
  readonly text: string;
  readonly fences: readonly Fence[];
  /** The text outside fences (fenced lines blanked, so line numbers stay). */
  readonly prose: string;
}

export function parseMarkdown(file: string, text: string): Markdown {
  const fences: Fence[] = [];
  const prose: string[] = [];
  let open: { lang: string; line: number; body: string[]; marker: string } | undefined;
  text.split('\n').forEach((line, index) => {
    const fence = /^\s*(`{3,}|~{3,})\s*([\w+-]*)/.exec(line);
    if (open === undefined && fence !== null) {
      open = { lang: fence[2]!.toLowerCase(), line: index + 1, body: [], marker: fence[1]! };
      prose.push('');
    } else if (open !== undefined && line.trim().startsWith(open.marker) && line.trim().replace(/[`~]/g, '') === '') {
      fences.push({ lang: open.lang, line: open.line, body: open.body.join('\n') });
      open = undefined;
      prose.push('');
    } else if (open !== undefined) {
      open.body.push(line);
      prose.push('');
    } else {
      prose.push(line);
    }
  });
  assert.equal(open, undefined, `${file}: a code fence opened on line ${open?.line} is never closed`);
  return { file, text, fences, prose: prose.join('\n') };
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** The documentation files: README.md, docs/*.md and every .md under monitoring/. */
function docFiles(): string[] {
  const files = ['README.md'];
  const docs = join(REPO, 'docs');
  if (existsSync(docs))
    files.push(
      ...readdirSync(docs)
        .filter((f) => f.endsWith('.md'))
        .sort()
        .map((f) => `docs/${f}`),
    );
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPO, dir)).sort()) {
      const path = `${dir}/${entry}`;
      if (statSync(join(REPO, path)).isDirectory()) walk(path);
      else if (entry.endsWith('.md')) files.push(path);
    }
  };
  walk('monitoring');
  return files;
}

function loadDocs(): Markdown[] {
  return docFiles().map((file) => parseMarkdown(file, readFileSync(join(REPO, file), 'utf8')));
}

// ---------------------------------------------------------------------------------------------------------------
// Environment variables

interface Mention {
  readonly name: string;
  readonly where: string;
}

// `NAME=value`: a shell assignment, an env-file line, a compose list entry, an inline `NAME=value`.
const ASSIGNMENT = /(?<![\w$./-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)=(?!=)/g;
// An UPPER_SNAKE name (with at least one underscore) in code: `SKEW_FOR`, `${DOCKER_GID:-999}`; not a file name
// (`RUNBOOK_HOTKEY_SKEW.md`).
const SNAKE = /(?<![\w./-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?![\w-]|\.[a-z])/g;
// YAML keys in upper case are environment variables in these documents (compose `environment:`, ConfigMap `data:`).
const YAML_KEY = /^\s*(?:-\s+)?"?([A-Z][A-Z0-9_]*)"?\s*:(?:\s|$)/gm;
const YAML_ENV_NAME = /^\s*(?:-\s+)?name:\s*"?([A-Z][A-Z0-9_]*)"?\s*$/gm;

/** Every name the document uses as an environment variable, with where. */
export function variablesNamed(doc: Markdown): Mention[] {
  // A shell variable of a block itself (assigned and read in it: `N=24; echo "$N"`) is not an environment variable.
  const local = new Map<number, Set<string>>();
  for (const fence of doc.fences) {
    const names = [...fence.body.matchAll(/^\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    const own = new Set(names.filter((name) => new RegExp(`\\$\\{?${name}\\b`).test(fence.body)));
    fence.body.split('\n').forEach((_, index) => local.set(fence.line + 1 + index, own));
  }
  const found: Mention[] = [];
  const seen = new Set<string>();
  const add = (name: string, line: number, how: string): void => {
    if (seen.has(`${name}@${line}`) || local.get(line)?.has(name)) return;
    seen.add(`${name}@${line}`);
    found.push({ name, where: `${doc.file}:${line} (${how})` });
  };
  for (const match of doc.text.matchAll(ASSIGNMENT)) add(match[1]!, lineOf(doc.text, match.index), 'NAME=value');
  // Inline code spans of the prose (they may wrap a line, never a paragraph).
  for (const match of doc.prose.matchAll(/(`+)(?!`)((?:(?!\n\s*\n)[\s\S])+?)(?<!`)\1(?!`)/g)) {
    for (const name of match[2]!.matchAll(SNAKE)) add(name[1]!, lineOf(doc.prose, match.index + match[1]!.length + name.index), 'in backticks');
  }
  for (const fence of doc.fences) {
    const at = (index: number): number => fence.line + lineOf(fence.body, index);
    for (const name of fence.body.matchAll(SNAKE)) add(name[1]!, at(name.index), `in a ${fence.lang || 'code'} block`);
    if (fence.lang === 'yaml' || fence.lang === 'yml') {
      for (const key of fence.body.matchAll(YAML_KEY)) add(key[1]!, at(key.index), 'YAML key');
      for (const key of fence.body.matchAll(YAML_ENV_NAME)) add(key[1]!, at(key.index), 'env name');
    }
  }
  return found;
}

/**
 * Names that are not the probe's and are fine: other programs' (above), error codes, the build arguments of
 * Dockerfile.distroless and the settings of scripts/build-image.sh (`NAME="${NAME:-default}"`).
 */
function otherNames(): Set<string> {
  const dockerfile = readFileSync(join(REPO, DOCKERFILE), 'utf8');
  const buildArgs = [...dockerfile.matchAll(/^ARG\s+([A-Z][A-Z0-9_]*)/gm)].map((m) => m[1]!);
  const script = readFileSync(join(REPO, BUILD_SCRIPT), 'utf8');
  const scriptSettings = [...script.matchAll(/^([A-Z][A-Z0-9_]*)="\$\{([A-Z][A-Z0-9_]*):-/gm)].filter((m) => m[1] === m[2]).map((m) => m[1]!);
  return new Set([...NOT_PROBE_VARIABLES.keys(), ...PROMETHEUS_ERROR_CODES, ...buildArgs, ...scriptSettings]);
}

function unknownVariables(docs: readonly Markdown[], probe: ReadonlySet<string>, others: ReadonlySet<string>): string[] {
  return docs
    .flatMap(variablesNamed)
    .filter(({ name }) => !probe.has(name) && !others.has(name))
    .map(({ name, where }) => `${name} at ${where}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

interface Usage {
  /** Subcommand ('' serves) -> its options and whether it takes a positional argument. */
  readonly commands: ReadonlyMap<string, { readonly options: ReadonlySet<string>; readonly positional: boolean }>;
  /** --help, --version. */
  readonly flags: ReadonlySet<string>;
}

/** The commands `node dist/main.js --help` lists: `  node dist/main.js <usage>  <description>` lines. */
export function parseHelp(help: string): Usage {
  const commands = new Map<string, { options: Set<string>; positional: boolean }>();
  const flags = new Set<string>();
  let last: { options: Set<string>; positional: boolean } | undefined;
  for (const line of help.split('\n')) {
    const usage = /^\s+node dist\/main\.js(.*)$/.exec(line);
    if (usage !== null) {
      // The usage column ends where the description begins: two spaces or more.
      const column = usage[1]!.split(/\s{2,}/)[0]!.trim();
      if (column.startsWith('-')) {
        for (const flag of column.split('|')) flags.add(flag.trim());
        last = undefined;
        continue;
      }
      const [name = '', ...rest] = column === '' ? [] : column.split(/\s+/);
      last = { options: new Set(), positional: false };
      for (const token of rest) {
        const bare = token.replace(/^\[|\]$/g, '');
        if (bare.startsWith('-')) last.options.add(bare);
        else last.positional = true;
      }
      commands.set(name, last);
      continue;
    }
    // A continuation line naming an argument of the command above: `                    [PATH]   (...)`.
    const argument = /^\s+\[([A-Z][A-Z_]*)\]\s/.exec(line);
    if (argument !== null && last !== undefined) last.positional = true;
  }
  return { commands, flags };
}

interface Invocation {
  readonly args: readonly string[];
  readonly text: string;
  readonly where: string;
}

const NODE_MAIN = /(?<![\w./-])(?:[\w./-]*\/)?node((?:[ \t]+--?[\w-]+(?:=[^\s`'"]+)?)*)[ \t]+[^\s`'"]*dist\/main\.js((?: [^\s`'"|;&)<>\\]+)*)/g;
const EXEC_MAIN = /dist\/main\.js"((?:\s*,\s*"[^"]*")*)/g;
const RUN_IMAGE = /\bdocker(?:-compose| compose)? run\b[^\n`|;&]*?[ \t](?:crm-events-health-probe:[\w.-]+|crm-events-health)(?=[ \t`]|$)((?: [^\s`'"|;&)<>\\]+)*)/gm;

/** Every way the documentation runs the probe's entry point, with its arguments. */
export function invocations(doc: Markdown): Invocation[] {
  const found: Invocation[] = [];
  const words = (text: string): string[] =>
    text
      .split(' ')
      .filter((w) => w !== '')
      .map((w) => w.replace(/^\[|\]$/g, ''));
  for (const match of doc.text.matchAll(NODE_MAIN)) {
    found.push({ args: words(match[2]!), text: match[0], where: `${doc.file}:${lineOf(doc.text, match.index)}` });
  }
  for (const match of doc.text.matchAll(EXEC_MAIN)) {
    const args = JSON.parse(`[${match[1]!.replace(/^\s*,/, '')}]`) as string[];
    found.push({ args, text: match[0], where: `${doc.file}:${lineOf(doc.text, match.index)}` });
  }
  for (const match of doc.text.matchAll(RUN_IMAGE)) {
    found.push({ args: words(match[1]!), text: match[0], where: `${doc.file}:${lineOf(doc.text, match.index)}` });
  }
  return found;
}

/** What is wrong with one invocation, or undefined. */
export function invocationProblem(invocation: Invocation, usage: Usage): string | undefined {
  const [first, ...rest] = invocation.args;
  if (first === undefined) return usage.commands.has('') ? undefined : 'serving is not a listed command';
  if (first.startsWith('-')) return usage.flags.has(first) ? undefined : `${first} is not a listed flag`;
  const command = usage.commands.get(first);
  if (command === undefined) return `${first} is not a subcommand (--help lists: ${[...usage.commands.keys()].filter((c) => c !== '').join(', ')})`;
  for (const arg of rest) {
    if (arg.startsWith('-') && !command.options.has(arg)) return `${first} has no option ${arg}`;
    if (!arg.startsWith('-') && !command.positional) return `${first} takes no argument (${arg})`;
  }
  return undefined;
}

/** `npm run <script>`, `npm start`, `npm test`. */
export function npmScripts(doc: Markdown): { script: string; where: string }[] {
  return [...doc.text.matchAll(/\bnpm (?:run(?:-script)? ([\w:.-]+)|(start|test|stop|restart)\b)/g)].map((m) => ({
    script: (m[1] ?? m[2])!,
    where: `${doc.file}:${lineOf(doc.text, m.index)}`,
  }));
}

let helpText: string | undefined;
function help(): string {
  if (helpText === undefined) {
    assert.ok(existsSync(MAIN), `${MAIN} is missing: run npm run build first (npm test does)`);
    const result = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '' } });
    assert.equal(result.status, 0, `node dist/main.js --help: ${result.stderr}`);
    helpText = result.stdout;
  }
  return helpText;
}

// ---------------------------------------------------------------------------------------------------------------
// YAML (python3-yaml) and the snippets

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isRecord(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * How `part` fails to be contained in `whole`: mappings key by key; lists of scalars (argv, cap_drop) equal as a
 * whole; lists of mappings item by item, matched by `name` when they have one, else by containment.
 */
export function subsetProblems(part: unknown, whole: unknown, at = ''): string[] {
  if (Array.isArray(part)) {
    if (!Array.isArray(whole)) return [`${at || '/'}: a list here, ${JSON.stringify(whole)} in the file`];
    if (part.every((item) => item === null || typeof item !== 'object')) {
      return isDeepStrictEqual(part, whole) ? [] : [`${at}: ${JSON.stringify(part)} here, ${JSON.stringify(whole)} in the file`];
    }
    return part.flatMap((item: unknown, index) => {
      if (isRecord(item) && typeof item.name === 'string') {
        const named = whole.find((candidate) => isRecord(candidate) && candidate.name === item.name);
        return named === undefined ? [`${at}: no item named ${item.name} in the file`] : subsetProblems(item, named, `${at}[${item.name}]`);
      }
      if (whole.some((candidate) => subsetProblems(item, candidate).length === 0)) return [];
      return [`${at}[${index}]: ${JSON.stringify(item)} matches no item in the file`];
    });
  }
  if (isRecord(part)) {
    if (!isRecord(whole)) return [`${at || '/'}: a mapping here, ${JSON.stringify(whole)} in the file`];
    return Object.entries(part).flatMap(([key, value]) => (key in whole ? subsetProblems(value, whole[key], `${at}.${key}`) : [`${at}.${key}: not in the file`]));
  }
  return part === whole ? [] : [`${at}: ${JSON.stringify(part)} here, ${JSON.stringify(whole)} in the file`];
}

interface Marker {
  readonly kind: 'excerpt' | 'variant';
  readonly file: string;
  /** Path from the document root to the service or container the variant changes. */
  readonly base: readonly (string | { name: string })[];
  readonly replaced: readonly string[];
}

/** `# excerpt of FILE` or `# variant of FILE, service|container NAME; replaced: KEY, KEY`. */
export function parseMarker(firstLine: string): Marker | string {
  const match = /^#\s*(excerpt|variant) of (\S+?)(?:, (service|container) ([\w.-]+))?(?:; replaced: (.+))?\s*$/.exec(firstLine);
  if (match === null) return `the first line must say what it excerpts ("# excerpt of compose.yaml"), not ${JSON.stringify(firstLine)}`;
  const [, kind, file, scope, name, replaced] = match;
  if (kind === 'variant' && (scope === undefined || replaced === undefined)) return 'a variant names its service or container and what it replaced';
  if (kind === 'excerpt' && replaced !== undefined) return 'an excerpt replaces nothing: call it a variant';
  const base = scope === undefined ? [] : scope === 'service' ? ['services', name!] : ['spec', 'template', 'spec', 'containers', { name: name! }];
  return { kind: kind as Marker['kind'], file: file!, base, replaced: replaced?.split(',').map((k) => k.trim()) ?? [] };
}

function navigate(root: unknown, path: Marker['base']): unknown {
  let node = root;
  for (const step of path) {
    if (typeof step === 'string') node = isRecord(node) ? node[step] : undefined;
    else node = Array.isArray(node) ? node.find((item) => isRecord(item) && item.name === step.name) : undefined;
  }
  return node;
}

/** Every problem of one YAML snippet against the shipped documents (by file). */
export function snippetProblems(marker: Marker, snippet: unknown, shipped: ReadonlyMap<string, unknown>): string[] {
  const file = shipped.get(marker.file);
  if (file === undefined) return [`${marker.file} is not a shipped compose or Kubernetes file`];
  const part = structuredClone(snippet);
  if (marker.kind === 'variant') {
    const base = navigate(part, marker.base);
    if (!isRecord(base)) return [`the snippet has no ${JSON.stringify(marker.base)}`];
    if (navigate(file, marker.base) === undefined) return [`${marker.file} has no ${JSON.stringify(marker.base)}`];
    for (const key of marker.replaced) {
      if (!(key in base)) return [`"replaced: ${key}", but the snippet has no ${key} there`];
      delete base[key];
    }
  }
  return subsetProblems(part, file).map((problem) => `${marker.file}${problem}`);
}

/** References a replaced part may add: ConfigMaps, compose services. They must exist. */
function referenceProblems(snippet: unknown, configMaps: ReadonlySet<string>, services: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    if (!isRecord(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'configMapRef' || key === 'configMapKeyRef') && isRecord(value) && !configMaps.has(String(value.name))) {
        problems.push(`${key} ${String(value.name)} is not a shipped ConfigMap`);
      }
      if (key === 'depends_on' && isRecord(value)) {
        for (const service of Object.keys(value)) if (!services.has(service)) problems.push(`depends_on ${service}: no such service`);
      }
      walk(value);
    }
  };
  walk(snippet);
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Dockerfile

/** Instructions with continuations joined and whitespace collapsed; comments and blank lines dropped. */
function instructions(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter((line) => line !== '');
}

/** Problems of a ```dockerfile block of the documentation. `probeImage` is the image compose.yaml builds. */
export function dockerfileProblems(block: string, shipped: string, probeImage: string): string[] {
  const [first = '', ...rest] = block.split('\n');
  const shippedInstructions = instructions(shipped);
  if (/^# excerpt of Dockerfile\.distroless\s*$/.test(first)) {
    return instructions(rest.join('\n'))
      .filter((instruction) => !shippedInstructions.includes(instruction))
      .map((instruction) => `not in ${DOCKERFILE}: ${instruction}`);
  }
  if (!/^# consumer image: /.test(first)) return [`the first line must be "# excerpt of ${DOCKERFILE}" or "# consumer image: ...", not ${JSON.stringify(first)}`];
  // What the probe's image holds: the destinations of the final stage's COPY --from=build.
  const finalStage = shippedInstructions.slice(shippedInstructions.findLastIndex((i) => i.startsWith('FROM ')));
  const provided = finalStage.flatMap((i) => /^COPY --from=build \S+ (\S+)$/.exec(i)?.[1] ?? []);
  const problems: string[] = [];
  const copied: string[] = [];
  for (const instruction of instructions(rest.join('\n'))) {
    const copy = /^COPY --from=(\S+) (\S+) (\S+)$/.exec(instruction);
    if (copy !== null) {
      if (copy[1] !== probeImage) problems.push(`COPY --from=${copy[1]}: the probe's image is ${probeImage}`);
      if (!provided.includes(copy[2]!)) problems.push(`COPY ${copy[2]}: the probe's image provides ${provided.join(', ')}`);
      copied.push(copy[3]!);
    }
    const check = /^HEALTHCHECK .*?\bCMD (\[.*\])$/.exec(instruction);
    if (check !== null) {
      const argv = JSON.parse(check[1]!) as string[];
      const script = argv.find((arg) => arg.endsWith('dist/main.js'));
      if (script === undefined) problems.push(`HEALTHCHECK does not run dist/main.js: ${check[1]}`);
      else if (!copied.some((dir) => script.startsWith(dir))) problems.push(`HEALTHCHECK runs ${script}, which no COPY puts there`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Environment blocks

/** NAME=value lines of a shell block that holds nothing else (comments and blank lines aside), or undefined. */
function envBlock(body: string): Map<string, string> | undefined {
  const env = new Map<string, string>();
  for (const line of body.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const match = /^([A-Z][A-Z0-9_]*)=(\S*)$/.exec(line.trim());
    if (match === null) return undefined;
    env.set(match[1]!, match[2]!);
  }
  return env.size === 0 ? undefined : env;
}

/** Each `### <heading>` of a section with the environment block under it. */
function profiles(doc: Markdown): Map<string, Map<string, string>> {
  const found = new Map<string, Map<string, string>>();
  for (const fence of doc.fences) {
    const env = fence.lang === 'sh' ? envBlock(fence.body) : undefined;
    if (env === undefined) continue;
    // The nearest heading above, in the prose: a shell comment in an earlier block is not a heading.
    const before = doc.prose.split('\n').slice(0, fence.line - 1);
    const heading = before.reverse().find((line) => /^#{1,6} /.test(line));
    if (heading !== undefined) found.set(heading.replace(/^#+\s*/, '').trim(), env);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// The tests

test("the documentation set includes the operators' pages", () => {
  const files = docFiles();
  for (const file of [OPERATIONS, ONE_LINERS, 'README.md', 'monitoring/RUNBOOK_HOTKEY_SKEW.md']) {
    assert.ok(files.includes(file), `${file} is not among ${files.join(', ')}`);
  }
});

test('every environment variable the documentation names is one the probe reads (VARIABLES in src/config/load.ts)', () => {
  const docs = loadDocs();
  const probe = new Set(Object.keys(VARIABLES));
  const others = otherNames();
  assert.deepEqual(unknownVariables(docs, probe, others), [], "not in VARIABLES: a typo, a removed variable, or another program's (NOT_PROBE_VARIABLES)");
  // The allowlist stays honest: none of it shadows a probe variable, and each entry is still used somewhere.
  for (const name of NOT_PROBE_VARIABLES.keys()) assert.ok(!probe.has(name), `${name} is the probe's: remove it from NOT_PROBE_VARIABLES`);
  const used = new Set(docs.flatMap(variablesNamed).map((m) => m.name));
  for (const name of NOT_PROBE_VARIABLES.keys()) assert.ok(used.has(name), `${name} is allowlisted but no document names it`);
  // The scan sees the operators' pages: they name most of the probe's variables.
  const named = new Set(
    docs
      .filter((d) => d.file === OPERATIONS)
      .flatMap(variablesNamed)
      .map((m) => m.name),
  );
  for (const name of ['PROMETHEUS_URL', 'KAFKA_GROUP', 'SKEW_THRESHOLD', 'MIN_CONSUMERS', 'CHECK_INTERVAL', 'STALE_AFTER', 'SKEW_FOR', 'ON_PROMETHEUS_ERROR']) {
    assert.ok(named.has(name), `${OPERATIONS} never names ${name}: is the scan blind?`);
  }
});

test('every `node dist/main.js ...` the documentation shows is a command and option --help lists', () => {
  const usage = parseHelp(help());
  assert.ok(usage.commands.has('check') && usage.commands.has('healthcheck'), `--help parsed as ${JSON.stringify([...usage.commands.keys()])}`);
  assert.ok(usage.flags.has('--help') && usage.flags.has('--version'));
  const docs = loadDocs();
  const all = docs.flatMap(invocations);
  const problems = all.flatMap((invocation) => {
    const problem = invocationProblem(invocation, usage);
    return problem === undefined ? [] : [`${invocation.where}: ${invocation.text.trim()}: ${problem}`];
  });
  assert.deepEqual(problems, []);
  // The scan finds the forms the operators' pages use.
  const ours = all.filter((i) => i.where.startsWith(OPERATIONS) || i.where.startsWith(ONE_LINERS)).map((i) => i.args.join(' '));
  for (const expected of ['check', 'check --json', 'healthcheck']) assert.ok(ours.includes(expected), `no "${expected}" found in the operators' pages`);
});

test('every `npm run <script>` the documentation names is in package.json', () => {
  const scripts = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const named = loadDocs().flatMap(npmScripts);
  assert.ok(named.length > 0);
  assert.deepEqual(
    named.filter(({ script }) => !(script in scripts)).map(({ script, where }) => `npm run ${script} at ${where}`),
    [],
  );
});

test('every compose and Kubernetes snippet of docs/OPERATIONS.md matches the shipped file it excerpts', (t) => {
  const doc = parseMarkdown(OPERATIONS, readFileSync(join(REPO, OPERATIONS), 'utf8'));
  const blocks = doc.fences.filter((f) => f.lang === 'yaml' || f.lang === 'yml');
  assert.ok(blocks.length >= 6, `${blocks.length} YAML blocks`);

  const k8sFiles = readdirSync(join(REPO, K8S_DIR))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `${K8S_DIR}/${f}`);
  const shippedFiles = [COMPOSE, ...k8sFiles];
  const parsed = parseYaml(t, [...shippedFiles.map((f) => readFileSync(join(REPO, f), 'utf8')), ...blocks.map((b) => b.body)]);
  if (parsed === undefined) return;
  const shipped = new Map<string, unknown>();
  shippedFiles.forEach((file, index) => {
    assert.equal(parsed[index]!.length, 1, `${file} is one YAML document`);
    shipped.set(file, parsed[index]![0]);
  });
  const configMaps = new Set(
    k8sFiles
      .map((f) => shipped.get(f))
      .filter((d) => isRecord(d) && d.kind === 'ConfigMap')
      .map((d) => String((d as { metadata: { name: string } }).metadata.name)),
  );
  const services = new Set(Object.keys((shipped.get(COMPOSE) as { services: Record<string, unknown> }).services));

  const seen = new Set<string>();
  blocks.forEach((block, index) => {
    const where = `${OPERATIONS}:${block.line}`;
    const marker = parseMarker(block.body.split('\n')[0]!);
    assert.ok(typeof marker !== 'string', `${where}: ${marker as string}`);
    const docs = parsed[shippedFiles.length + index]!;
    assert.equal(docs.length, 1, `${where}: one YAML document per block`);
    assert.deepEqual(snippetProblems(marker, docs[0], shipped), [], `${where}: the snippet differs from ${marker.file}`);
    assert.deepEqual(referenceProblems(docs[0], configMaps, services), [], where);
    seen.add(`${marker.kind} ${marker.file}`);
  });
  for (const expected of [`excerpt ${COMPOSE}`, `excerpt ${K8S_DIR}/deployment.yaml`, `excerpt ${K8S_DIR}/configmap.yaml`]) {
    assert.ok(seen.has(expected), `no ${expected} in ${OPERATIONS}`);
  }
});

test('every Dockerfile snippet of docs/OPERATIONS.md matches Dockerfile.distroless and the image compose.yaml builds', (t) => {
  const composeDocs = parseYaml(t, [readFileSync(join(REPO, COMPOSE), 'utf8')]);
  if (composeDocs === undefined) return;
  const compose = composeDocs[0]![0] as { services: Record<string, { image?: string }> };
  const probeImage = compose.services['crm-events-health']?.image;
  assert.ok(probeImage !== undefined, 'compose.yaml: crm-events-health has no image');
  const shipped = readFileSync(join(REPO, DOCKERFILE), 'utf8');
  const doc = parseMarkdown(OPERATIONS, readFileSync(join(REPO, OPERATIONS), 'utf8'));
  const blocks = doc.fences.filter((f) => f.lang === 'dockerfile');
  assert.ok(blocks.length > 0);
  for (const block of blocks) {
    assert.deepEqual(dockerfileProblems(block.body, shipped, probeImage), [], `${OPERATIONS}:${block.line}`);
  }
});

test('the tuning profiles are configurations the probe accepts, production is the shipped one, and the costs add up', (t) => {
  const doc = parseMarkdown(OPERATIONS, readFileSync(join(REPO, OPERATIONS), 'utf8'));
  const found = profiles(doc);
  const names = ['Development', 'Production', 'High-volume'];
  for (const name of names) assert.ok(found.has(name), `no environment block under "### ${name}" (found: ${[...found.keys()].join(', ')})`);
  for (const [name, env] of found) {
    assert.doesNotThrow(() => loadConfig(Object.fromEntries(env)), `${OPERATIONS}, ${name}: the probe refuses this configuration`);
  }

  // "2 × 60 / CHECK_INTERVAL" queries a minute, in the cost table's row, column by column.
  const row = doc.text.split('\n').find((line) => line.startsWith('| queries to Prometheus per minute'));
  assert.ok(row !== undefined, 'the cost table has no "queries to Prometheus per minute" row');
  const cells = row
    .split('|')
    .slice(2, -1)
    .map((cell) => cell.trim());
  names.forEach((name, index) => {
    const seconds = parseDuration(found.get(name)!.get('CHECK_INTERVAL') ?? VARIABLES.CHECK_INTERVAL.default)! / 1000;
    assert.equal(cells[index], `2 × 60 / ${seconds} = **${(2 * 60) / seconds}**`, `${name}: queries per minute`);
  });

  // The production block is what compose.yaml and the ConfigMap ship.
  const shippedBlock = doc.fences.find((f) => f.lang === 'sh' && f.body.startsWith('# The shipped values'));
  assert.ok(shippedBlock !== undefined, 'no "# The shipped values" block');
  const production = envBlock(shippedBlock.body)!;
  assert.deepEqual(production, found.get('Production'));
  const shippedYaml = parseYaml(
    t,
    [COMPOSE, `${K8S_DIR}/configmap.yaml`, `${K8S_DIR}/consumer-configmap.yaml`].map((f) => readFileSync(join(REPO, f), 'utf8')),
  );
  if (shippedYaml === undefined) return;
  const [composeDocs, configMapDocs, consumerConfigMapDocs] = shippedYaml;
  const composeEnv = (composeDocs![0] as { services: Record<string, { environment: Record<string, unknown> }> }).services['crm-events-health']!.environment;
  assert.deepEqual(Object.fromEntries(production), Object.fromEntries(Object.entries(composeEnv).map(([k, v]) => [k, String(v)])));
  // In Kubernetes the probe takes KAFKA_GROUP from the consumer's ConfigMap (one source for both containers).
  const { KAFKA_GROUP } = (consumerConfigMapDocs![0] as { data: Record<string, string> }).data;
  const merged: Record<string, string | undefined> = { ...(configMapDocs![0] as { data: Record<string, string> }).data, KAFKA_GROUP };
  const { PROMETHEUS_URL: _inCluster, ...configMap } = merged;
  const { PROMETHEUS_URL: _compose, ...rest } = Object.fromEntries(production);
  assert.deepEqual(rest, configMap);
});

test('the checkers catch what they must (a bogus variable, command, script or snippet fails)', () => {
  const doc = parseMarkdown(
    'fake.md',
    [
      'Set `SKEW_TRESHOLD` or `PORTS=9012`, then run `node dist/main.js chek` and `npm run nope`.',
      '```sh',
      'BOGUS_VARIABLE=1 /usr/local/bin/node --max-old-space-size=64 /app/dist/main.js check --yaml',
      '```',
      '```yaml',
      'environment:',
      '  QUERY_TIME_OUT: 5s',
      '```',
      '```dockerfile',
      'CMD ["node", "/app/dist/main.js", "serve"]',
      '```',
    ].join('\n'),
  );
  const names = variablesNamed(doc).map((m) => m.name);
  for (const bogus of ['SKEW_TRESHOLD', 'PORTS', 'BOGUS_VARIABLE', 'QUERY_TIME_OUT']) assert.ok(names.includes(bogus), `${bogus} not seen in ${names.join(', ')}`);
  const unknown = unknownVariables([doc], new Set(Object.keys(VARIABLES)), otherNames()).map((p) => p.split(' ')[0]);
  assert.deepEqual([...new Set(unknown)].sort(), ['BOGUS_VARIABLE', 'PORTS', 'QUERY_TIME_OUT', 'SKEW_TRESHOLD']);

  const usage = parseHelp(help());
  const problems = invocations(doc).map((i) => invocationProblem(i, usage));
  assert.match(problems.join('\n'), /chek is not a subcommand/);
  assert.match(problems.join('\n'), /check has no option --yaml/);
  assert.match(problems.join('\n'), /serve is not a subcommand/);
  assert.equal(invocationProblem({ args: ['healthcheck', '/ready'], text: '', where: '' }, usage), undefined);
  assert.equal(invocationProblem({ args: [], text: '', where: '' }, usage), undefined);
  assert.deepEqual(
    npmScripts(doc).map((s) => s.script),
    ['nope'],
  );

  // Snippets: a changed value, a missing key and an unlisted replacement are all caught.
  const shipped = new Map<string, unknown>([
    ['compose.yaml', { services: { probe: { image: 'p:1', healthcheck: { test: ['CMD', 'node', 'main.js', 'healthcheck'], retries: 3 } } } }],
  ]);
  const excerpt = parseMarker('# excerpt of compose.yaml') as Marker;
  assert.deepEqual(snippetProblems(excerpt, { services: { probe: { healthcheck: { retries: 3 } } } }, shipped), []);
  assert.equal(snippetProblems(excerpt, { services: { probe: { healthcheck: { retries: 5 } } } }, shipped).length, 1);
  assert.equal(snippetProblems(excerpt, { services: { probe: { healthcheck: { test: ['CMD', 'node', 'main.js', 'check'] } } } }, shipped).length, 1);
  assert.equal(snippetProblems(excerpt, { services: { probe: { labels: { a: 'b' } } } }, shipped).length, 1);
  const variant = parseMarker('# variant of compose.yaml, service probe; replaced: healthcheck') as Marker;
  assert.deepEqual(snippetProblems(variant, { services: { probe: { image: 'p:1', healthcheck: { test: ['CMD', 'x'] } } } }, shipped), []);
  assert.equal(snippetProblems(variant, { services: { probe: { image: 'p:2', healthcheck: {} } } }, shipped).length, 1);
  assert.equal(typeof parseMarker('# from compose.yaml'), 'string');
  assert.equal(typeof parseMarker('# variant of compose.yaml'), 'string');
  const k8s = new Map<string, unknown>([
    [
      'd.yaml',
      {
        spec: {
          template: {
            spec: {
              containers: [
                { name: 'a', image: 'x:1' },
                { name: 'b', image: 'y:1' },
              ],
            },
          },
        },
      },
    ],
  ]);
  const container = parseMarker('# excerpt of d.yaml') as Marker;
  assert.deepEqual(snippetProblems(container, { spec: { template: { spec: { containers: [{ name: 'b', image: 'y:1' }] } } } }, k8s), []);
  assert.equal(snippetProblems(container, { spec: { template: { spec: { containers: [{ name: 'b', image: 'x:1' }] } } } }, k8s).length, 1);
  assert.equal(snippetProblems(container, { spec: { template: { spec: { containers: [{ name: 'c' }] } } } }, k8s).length, 1);

  // Dockerfile: an instruction not in the file, and a consumer image copying from elsewhere.
  const dockerfile = readFileSync(join(REPO, DOCKERFILE), 'utf8');
  assert.equal(dockerfileProblems('# excerpt of Dockerfile.distroless\nUSER 0:0', dockerfile, 'p:1').length, 1);
  assert.equal(
    dockerfileProblems('# consumer image: x\nCOPY --from=other:1 /app/ /opt/p/\nHEALTHCHECK CMD ["node", "/srv/dist/main.js", "check"]', dockerfile, 'p:1').length,
    2,
  );
  assert.deepEqual(
    dockerfileProblems('# consumer image: x\nCOPY --from=p:1 /app/ /opt/p/\nHEALTHCHECK CMD ["node", "/opt/p/dist/main.js", "check"]', dockerfile, 'p:1'),
    [],
  );
});
