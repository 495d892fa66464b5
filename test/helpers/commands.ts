// Commands that the docs tell an operator to run, checked against each tool's own flags (test/repo/commands.test.ts).
//
// A tool is known by a flag table: either read at test time from the installed tool's help (promtool, curl), or a
// JSON file test/repo/flags/<tool>.json written down from the tool's source, with the repository, version, commit and
// files it was read from. To check a new tool (kubectl, docker, ...), add test/repo/flags/<tool>.json; nothing else.
//
// JSON format:
//   { "tool": "rpk", "source": { "repo", "version", "commit", "files": [...] , "notes"? },
//     "combineShort": true,          // -ab means -a -b (pflag, getopt); false for jopt-simple (Kafka's tools)
//     "global": ["-h|--help", "-X|--config-opt=", ...],     // every command accepts these
//     "commands": { "topic consume": ["-p|--partitions=", ...], "group describe": [...] },
//     "argsAfter"?: { "run": 1 } }   // `docker compose run SERVICE cmd --flag`: flags end after 1 positional (SetInterspersed(false))
// A table whose "tool" is two words ("docker compose", in docker.compose.json) is a plugin of the first (withPlugin).
// A flag is its names joined by '|'; a trailing '=' means it takes a value (`--flag value` or `--flag=value`), a
// trailing '=?' an optional one (`--flag` or `--flag=value`).
// "commands" is keyed by the subcommand path; "" for a tool without subcommands.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface FlagSpec {
  readonly names: readonly string[];
  /** Takes a value: `--flag value` or `--flag=value`. */
  readonly value: boolean;
  /** Takes an optional value, only as `--flag=value` (jopt-simple's withOptionalArg). */
  readonly optional?: boolean;
}

export interface Tool {
  readonly name: string;
  /** Where the flags come from: the help command run, or the repository, version and file read. */
  readonly source: string;
  /** -abc is -a -b -c. */
  readonly combineShort: boolean;
  /** Subcommand paths ('' for none). */
  readonly commands: readonly string[];
  /** The flags `command` accepts, the global ones included. */
  flags(command: string): readonly FlagSpec[];
  /** After this many positional words past the command path, the rest is another program's (`docker run IMAGE --version`). */
  argsAfter?(command: string): number | undefined;
}

export interface Command {
  readonly tool: string;
  /** The words after the tool's name. */
  readonly args: readonly string[];
  /** file:line, for failure messages. */
  readonly where: string;
}

export function parseFlag(spec: string): FlagSpec {
  if (spec.endsWith('=?')) return { names: spec.slice(0, -2).split('|'), value: false, optional: true };
  const value = spec.endsWith('=');
  return { names: (value ? spec.slice(0, -1) : spec).split('|'), value };
}

export interface FlagTableJson {
  readonly tool: string;
  readonly source: { readonly repo: string; readonly version: string; readonly commit: string; readonly files: readonly string[]; readonly notes?: string };
  readonly combineShort: boolean;
  readonly global: readonly string[];
  readonly commands: Readonly<Record<string, readonly string[]>>;
  readonly argsAfter?: Readonly<Record<string, number>>;
}

export function toolFromTable(table: FlagTableJson): Tool {
  const global = table.global.map(parseFlag);
  const commands = Object.keys(table.commands);
  return {
    name: table.tool,
    source: `${table.source.repo} ${table.source.version} (commit ${table.source.commit}): ${table.source.files.join(', ')}`,
    combineShort: table.combineShort,
    commands,
    flags: (command) => [...global, ...(table.commands[command] ?? []).map(parseFlag)],
    argsAfter: (command) => table.argsAfter?.[command],
  };
}

export function loadFlagTables(directory: string): FlagTableJson[] {
  return readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const table = JSON.parse(readFileSync(join(directory, name), 'utf8')) as FlagTableJson;
      // A plugin's table (tool "docker compose") is docker.compose.json.
      if (`${table.tool.replaceAll(' ', '.')}.json` !== name) throw new Error(`${name}: "tool" is ${table.tool}; the file must be named <tool>.json`);
      return table;
    });
}

function run(binary: string, args: readonly string[]): string {
  const result = spawnSync(binary, args, { encoding: 'utf8', timeout: 20_000 });
  if (result.error !== undefined) throw result.error;
  return `${result.stdout}${result.stderr}`;
}

/** kingpin's help (Prometheus' tools): `  -h, --help  ...`, `      --lint="duplicate-rules"  ...`, `--enable-feature= ...`. */
export function kingpinFlags(help: string): FlagSpec[] {
  const flags: FlagSpec[] = [];
  for (const line of help.split('\n')) {
    const match = /^\s+(?:(-\w), )?(--[\w.-]+)(=)?/.exec(line);
    if (match === null) continue;
    const long = match[2]!;
    const value = match[3] !== undefined;
    flags.push({ names: match[1] === undefined ? [long] : [match[1], long], value });
    // kingpin accepts --no-<flag> for every boolean flag.
    if (!value) flags.push({ names: [`--no-${long.slice(2)}`], value: false });
  }
  return flags;
}

/** promtool, from the installed binary: `promtool --help` lists the commands, `promtool <command> --help` their flags. */
export function promtoolTool(binary: string): Tool {
  const top = run(binary, ['--help']);
  const commands = [
    ...new Set(
      top
        .slice(top.indexOf('Commands:'))
        .split('\n')
        .map((line) => /^([a-z][\w-]*(?: [a-z][\w-]*)*)(?: [[<]|$)/.exec(line)?.[1])
        .filter((command): command is string => command !== undefined && command !== 'help'),
    ),
  ];
  if (!commands.includes('check rules')) throw new Error(`promtool --help lists no 'check rules' command:\n${top}`);
  const version = run(binary, ['--version']).split('\n')[0] ?? '';
  const cache = new Map<string, FlagSpec[]>();
  return {
    name: 'promtool',
    source: `the installed ${binary} (${version.trim()}): \`promtool <command> --help\``,
    combineShort: false,
    commands: ['', ...commands],
    flags: (command) => {
      let flags = cache.get(command);
      if (flags === undefined) {
        flags = kingpinFlags(run(binary, [...(command === '' ? [] : command.split(' ')), '--help']));
        cache.set(command, flags);
      }
      return flags;
    },
  };
}

/** curl's `--help all`: ` -d, --data <data>  HTTP POST data`, `     --compressed  Request compressed response`. */
export function curlFlags(help: string): FlagSpec[] {
  const flags: FlagSpec[] = [];
  for (const line of help.split('\n')) {
    const match = /^\s*(?:(-[\w#:]), )?(--[\w.-]+)( <)?/.exec(line);
    if (match === null) continue;
    const long = match[2]!;
    const value = match[3] !== undefined;
    flags.push({ names: match[1] === undefined ? [long] : [match[1], long], value });
    // curl accepts --no-<option> for every boolean option.
    if (!value && !long.startsWith('--no-')) flags.push({ names: [`--no-${long.slice(2)}`], value: false });
  }
  return flags;
}

export function curlTool(binary: string): Tool {
  const help = run(binary, ['--help', 'all']);
  const flags = curlFlags(help);
  if (!flags.some((flag) => flag.names.includes('--data-urlencode'))) throw new Error(`curl --help all lists no --data-urlencode:\n${help}`);
  const version = run(binary, ['--version']).split('\n')[0] ?? '';
  return { name: 'curl', source: `the installed ${binary} (${version.split(' (')[0]}): \`curl --help all\``, combineShort: true, commands: [''], flags: () => flags };
}

// ---------------------------------------------------------------------------------------------------------------
// Shell words

interface Split {
  /** Simple commands: split at |, ||, &&, ;, &, ( and ). */
  readonly segments: string[][];
  /** The text of each $( ... ), itself a command line. */
  readonly nested: string[];
}

/** A tolerant shell word splitter: quotes, backslashes, $( ), comments and the control operators; an unclosed quote ends the line. */
export function splitShell(line: string): Split {
  const segments: string[][] = [];
  const nested: string[] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = (): void => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endSegment = (): void => {
    endWord();
    if (words.length > 0) segments.push(words);
    words = [];
  };
  const substitution = (start: number): number => {
    let depth = 0;
    let index = start + 1;
    for (; index < line.length; index++) {
      if (line[index] === '(') depth++;
      else if (line[index] === ')' && --depth === 0) break;
    }
    nested.push(line.slice(start + 2, index));
    return index + 1;
  };
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '\\') {
      word += line[i + 1] ?? '';
      inWord = true;
      i += 2;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      const stop = end < 0 ? line.length : end;
      word += line.slice(i + 1, stop);
      inWord = true;
      i = stop + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) {
          word += line[i + 1];
          i += 2;
        } else if (line.startsWith('$(', i)) {
          i = substitution(i);
          word += '$(...)';
        } else {
          word += line[i];
          i++;
        }
      }
      i++;
    } else if (line.startsWith('$(', i)) {
      i = substitution(i);
      word += '$(...)';
      inWord = true;
    } else if (/\s/.test(c)) {
      endWord();
      i++;
    } else if (c === '#' && !inWord) {
      break;
    } else if ('|&;()'.includes(c)) {
      endSegment();
      i++;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  endSegment();
  return { segments, nested };
}

const PACKAGE_MANAGERS: ReadonlySet<string> = new Set(['apt-get', 'apt', 'apt-cache', 'dpkg', 'npm', 'npx']);

/** The commands of `tools` in one shell line: wherever a tool's name is a word (after `docker compose exec X`, `sudo`, ...), in $( ), and in a quoted word that is itself a command (`sh -c "curl ..."`, `["CMD-SHELL", "curl ..."]`). */
export function commandsInLine(line: string, tools: ReadonlySet<string>, where: string): Command[] {
  const found: Command[] = [];
  const isTool = (word: string): boolean => tools.has(basename(word));
  const { segments, nested } = splitShell(line);
  for (const words of segments) {
    // Package names are not commands: `apt-get install buildah umoci`.
    if (PACKAGE_MANAGERS.has(basename(words[0] ?? ''))) continue;
    // Nor is a long flag's value: `buildah build --format docker`. (`kubectl exec pod -- rpk ...` does start one.)
    const starts = words.flatMap((word, index) => (isTool(word) && !/^--[\w.-]+$/.test(words[index - 1] ?? '') ? [index] : []));
    starts.forEach((start, k) => {
      // A tool named among another's words (`docker compose exec redpanda rpk ...`) starts a command of its own.
      found.push({ tool: basename(words[start]!), args: words.slice(start + 1, starts[k + 1] ?? words.length), where });
    });
    for (const word of words)
      if (/\s/.test(word) && [...tools].some((tool) => word.trimStart().startsWith(`${tool} `))) found.push(...commandsInLine(word, tools, where));
  }
  for (const inner of nested) found.push(...commandsInLine(inner, tools, where));
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// Documents

const SKIPPED_FENCES: ReadonlySet<string> = new Set(['json', 'promql', 'text']);

/** Commands in Markdown: each line of a fence (``` and ~~~, but not json/promql/text; `$ ` prompts and `\` continuations handled) and each `code span` of the prose. */
export function commandsInMarkdown(file: string, text: string, tools: ReadonlySet<string>): Command[] {
  const found: Command[] = [];
  const lines = text.split('\n');
  const prose: string[] = [];
  let fence: { marker: string; lang: string } | undefined;
  let pending = '';
  let pendingLine = 0;
  lines.forEach((line, index) => {
    const opening = /^\s*(`{3,}|~{3,})\s*([\w+-]*)/.exec(line);
    if (fence === undefined) {
      if (opening !== null) {
        fence = { marker: opening[1]!, lang: opening[2]!.toLowerCase() };
        prose.push('');
      } else prose.push(line);
      return;
    }
    prose.push('');
    if (line.trim().startsWith(fence.marker)) {
      fence = undefined;
      return;
    }
    if (SKIPPED_FENCES.has(fence.lang)) return;
    const body = line.replace(/^\s*\$ /, '');
    if (pending === '') pendingLine = index + 1;
    if (body.endsWith('\\')) {
      pending += `${body.slice(0, -1)} `;
      return;
    }
    found.push(...commandsInLine(pending + body, tools, `${file}:${pendingLine}`));
    pending = '';
  });
  found.push(...commandsInCodeSpans(file, prose.join('\n'), tools));
  return found;
}

/** `code spans` of prose; a span may wrap over lines. */
export function commandsInCodeSpans(file: string, text: string, tools: ReadonlySet<string>, lineOffset = 0): Command[] {
  const found: Command[] = [];
  for (const match of text.matchAll(/(`+)([^`]+?)\1/g)) {
    const line = text.slice(0, match.index).split('\n').length + lineOffset;
    found.push(...commandsInLine(match[2]!.replaceAll('\n', ' '), tools, `${file}:${line}`));
  }
  return found;
}

/** Commands in a YAML file's comments: a comment that starts with a tool's name (continued by `\`), and `code spans` in any comment. */
export function commandsInYamlComments(file: string, text: string, tools: ReadonlySet<string>): Command[] {
  const found: Command[] = [];
  const lines = text.split('\n');
  let pending = '';
  let pendingLine = 0;
  lines.forEach((line, index) => {
    const comment = /^\s*#\s?(.*)$/.exec(line)?.[1] ?? /\s#\s(.*)$/.exec(line)?.[1];
    if (comment === undefined) return;
    found.push(...commandsInCodeSpans(file, comment, tools, index));
    const body = comment.trim();
    if (pending === '' && ![...tools].some((tool) => body === tool || body.startsWith(`${tool} `))) return;
    if (pending === '') pendingLine = index + 1;
    if (body.endsWith('\\')) {
      pending += `${body.slice(0, -1)} `;
      return;
    }
    // Outside a code span, a comment's command ends at a `(` or two spaces followed by prose: keep the command.
    found.push(...commandsInLine((pending + body).replaceAll('`', ''), tools, `${file}:${pendingLine}`));
    pending = '';
  });
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// Checking

function lookup(flags: readonly FlagSpec[], name: string): FlagSpec | undefined {
  return flags.find((flag) => flag.names.includes(name));
}

/**
 * The subcommand: the longest of the tool's command paths that the leading positional words spell. A flag's value is
 * skipped by the flags of the command resolved so far (`docker compose --profile autoheal up`: compose's --profile).
 */
export function resolveCommand(tool: Tool, args: readonly string[]): { command: string; positionals: string[] } {
  const positionals: string[] = [];
  let command = '';
  let spelled = '';
  let descending = true;
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') break;
    if (word.startsWith('-') && word.length > 1) {
      if (!word.includes('=') && lookup(tool.flags(command), word)?.value === true) i++;
      continue;
    }
    positionals.push(word);
    if (!descending) continue;
    const next = spelled === '' ? word : `${spelled} ${word}`;
    if (!tool.commands.some((candidate) => candidate === next || candidate.startsWith(`${next} `))) {
      descending = false;
      continue;
    }
    spelled = next;
    if (tool.commands.includes(next)) command = next;
  }
  return { command, positionals };
}

/** What is wrong with one command: unknown flags, a value flag without its value, an unknown subcommand. Empty when fine. */
export function checkCommand(tool: Tool, args: readonly string[]): string[] {
  const problems: string[] = [];
  const { command, positionals } = resolveCommand(tool, args);
  const hasSubcommands = tool.commands.some((c) => c !== '');
  if (hasSubcommands && command === '' && positionals.length > 0 && !tool.commands.includes(''))
    problems.push(`no such subcommand in the flag table: ${tool.name} ${positionals.slice(0, 2).join(' ')}`);
  const flags = tool.flags(command);
  const label = command === '' ? tool.name : `${tool.name} ${command}`;
  const after = tool.argsAfter?.(command);
  const lastOwn = after === undefined ? Number.POSITIVE_INFINITY : (command === '' ? 0 : command.split(' ').length) + after;
  let seen = 0;
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') break;
    if (!word.startsWith('-') || word === '-') {
      if (++seen >= lastOwn) break;
      continue;
    }
    if (word.startsWith('--')) {
      const name = word.split('=')[0]!;
      const spec = lookup(flags, name);
      if (spec === undefined) problems.push(`unknown flag ${name} for ${label}`);
      else if (spec.value && !word.includes('=')) {
        if (i + 1 >= args.length) problems.push(`${name} needs a value (${label})`);
        i++;
      } else if (!spec.value && spec.optional !== true && word.includes('=')) problems.push(`${name} takes no value (${label})`);
      continue;
    }
    // Short flags: -x, -x value, -xVALUE, and (where the parser allows it) -abc.
    const letters = word.slice(1).split('=')[0]!;
    const exact = lookup(flags, `-${letters}`);
    if (exact !== undefined || !tool.combineShort || /^\d/.test(letters)) {
      if (exact === undefined) {
        problems.push(`unknown flag -${letters} for ${label}`);
        continue;
      }
      if (exact.value && !word.includes('=')) {
        if (i + 1 >= args.length) problems.push(`-${letters} needs a value (${label})`);
        i++;
      }
      continue;
    }
    for (let k = 0; k < letters.length; k++) {
      const spec = lookup(flags, `-${letters[k]}`);
      if (spec === undefined) {
        problems.push(`unknown flag -${letters[k]} (in ${word}) for ${label}`);
        break;
      }
      if (spec.value) {
        if (k === letters.length - 1 && !word.includes('=')) i++;
        break;
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// cobra/pflag tools read at test time (docker, buildah), docker-compose 1.29 (docopt), and plugins (`docker compose`)

/**
 * cobra's help (docker, buildah): `  -f, --file string   Name of the Dockerfile`, `      --rm   Remove ...`. A value flag
 * has its type after one space; a boolean flag has two spaces or the end of the line; `--flag[=value]` an optional one.
 */
export function cobraFlags(help: string): FlagSpec[] {
  const flags: FlagSpec[] = [];
  for (const line of help.split('\n')) {
    const match = /^\s+(?:(-\w), )?(--[\w.-]+)(\[=[^\]]*\])?( \S)?/.exec(line);
    if (match === null) continue;
    const names = match[1] === undefined ? [match[2]!] : [match[1], match[2]!];
    if (match[3] !== undefined) flags.push({ names, value: false, optional: true });
    else flags.push({ names, value: match[4] !== undefined });
  }
  return flags;
}

/** The commands that cobra's help lists under `Commands:`, `Available Commands:`, ...; `Management Commands:` have their own. */
export function cobraCommands(help: string): { name: string; management: boolean }[] {
  const commands: { name: string; management: boolean }[] = [];
  let section: string | undefined;
  for (const line of help.split('\n')) {
    const header = /^((?:[A-Z][\w]* )*)Commands:$/.exec(line);
    if (header !== null) section = header[1]!.trim();
    else if (line.trim() === '' || /^\S/.test(line)) section = undefined;
    else if (section !== undefined) {
      const name = /^\s{2}([a-z][\w-]*)\*?\s/.exec(line)?.[1];
      if (name !== undefined && name !== 'help' && name !== 'completion') commands.push({ name, management: section === 'Management' });
    }
  }
  return commands;
}

/**
 * A cobra tool from its installed binary: `<tool> --help` lists the commands and the global flags, `<tool> <management
 * command> --help` a second level (docker's `container`, `image`, ...), `<tool> <command> --help` each one's flags.
 */
export function cobraTool(name: string, binary: string, versionArgs: readonly string[], expect: string): Tool {
  const top = run(binary, ['--help']);
  const topCommands = cobraCommands(top);
  if (!topCommands.some((command) => command.name === expect)) throw new Error(`${binary} --help lists no '${expect}' command:\n${top}`);
  const global = [{ names: ['-h', '--help'], value: false }, ...cobraFlags(top.slice(top.search(/^(Global Options|Flags):$/m)))];
  const commands = [''];
  for (const { name: command, management } of topCommands) {
    commands.push(command);
    if (management) for (const sub of cobraCommands(run(binary, [command, '--help']))) commands.push(`${command} ${sub.name}`);
  }
  const version = run(binary, [...versionArgs])
    .split('\n')[0]!
    .trim();
  const cache = new Map<string, FlagSpec[]>([['', global]]);
  const helps = new Map<string, string>();
  return {
    name,
    source: `the installed ${binary} (${version}): \`${name} <command> --help\``,
    combineShort: true,
    commands,
    flags: (command) => {
      let flags = cache.get(command);
      if (flags === undefined) {
        const help = helps.get(command) ?? run(binary, [...command.split(' '), '--help']);
        helps.set(command, help);
        flags = [...global, ...cobraFlags(help)];
        cache.set(command, flags);
      }
      return flags;
    },
    // `Usage:  docker run [OPTIONS] IMAGE [COMMAND] [ARG...]`: the words from COMMAND on are the container's.
    argsAfter: (command) => {
      if (command === '') return undefined;
      const help = helps.get(command) ?? run(binary, [...command.split(' '), '--help']);
      helps.set(command, help);
      const usage = new RegExp(`^Usage:\\s+\\S+ ${command} (.*)$`, 'm').exec(help)?.[1];
      const words = (usage ?? '').split(' ').filter((word) => !/^\[(OPTIONS|flags)\]$/.test(word));
      const at = words.findIndex((word) => /^\[?COMMAND\]?$/.test(word));
      return at < 0 ? undefined : at;
    },
  };
}

/**
 * docopt's help (docker-compose 1.29): `  -f, --file FILE   Specify ...`, `    -T   Disable ...`, `    --index=index   ...`,
 * `  --ansi (never|always|auto)  ...`. A value is a word after `=` or one space that is CAPITALS, <angle> or (choices).
 */
export function docoptFlags(help: string): FlagSpec[] {
  const flags: FlagSpec[] = [];
  for (const line of help.split('\n')) {
    const match = /^\s+(-\w)?(?:, )?(--[\w-]+)?(=\S+| [A-Z<(][^\s]*)?(?:\s|$)/.exec(line);
    if (match === null || (match[1] === undefined && match[2] === undefined)) continue;
    const names = [match[1], match[2]].filter((name): name is string => name !== undefined);
    flags.push({ names, value: match[3] !== undefined });
  }
  return flags;
}

export function dockerComposeV1Tool(binary: string): Tool {
  const top = run(binary, ['--help']);
  const commands = [...top.slice(top.indexOf('Commands:')).matchAll(/^\s{2}([a-z][\w-]*)\s{2,}/gm)].map((match) => match[1]!);
  if (!commands.includes('config')) throw new Error(`${binary} --help lists no 'config' command:\n${top}`);
  const global = [{ names: ['-h', '--help'], value: false }, ...docoptFlags(top.slice(top.indexOf('Options:'), top.indexOf('Commands:')))];
  const version = run(binary, ['--version']).split('\n')[0]!.trim();
  const cache = new Map<string, FlagSpec[]>([['', global]]);
  return {
    name: 'docker-compose',
    source: `the installed ${binary} (${version}): \`docker-compose <command> --help\``,
    combineShort: false,
    commands: ['', ...commands.filter((command) => command !== 'help')],
    flags: (command) => {
      let flags = cache.get(command);
      if (flags === undefined) {
        const help = run(binary, [command, '--help']);
        flags = [...global, ...docoptFlags(help.slice(help.indexOf('Options:')))];
        cache.set(command, flags);
      }
      return flags;
    },
  };
}

/**
 * kubectl's own help (`kubectl <command> --help`, `kubectl options`): `    -c, --container='':` and `    --previous=false:`.
 * A default of true or false marks a boolean flag. Used to compare test/repo/flags/kubectl.json with an installed kubectl.
 */
export function kubectlHelpFlags(help: string): FlagSpec[] {
  const flags: FlagSpec[] = [];
  for (const line of help.split('\n')) {
    const match = /^\s{4}(?:(-\w), )?(--[\w.-]+)=(.*):$/.exec(line);
    if (match === null) continue;
    flags.push({ names: match[1] === undefined ? [match[2]!] : [match[1], match[2]!], value: !/^(true|false)$/.test(match[3]!) });
  }
  return flags;
}

/**
 * A plugin's table (`docker compose`, `docker buildx`: a table whose tool is two words) under its parent: the parent's
 * commands and flags, plus `compose up`, `buildx build`, ... with the parent's global flags and the plugin's own.
 */
export function withPlugin(parent: Tool, plugin: Tool): Tool {
  const prefix = plugin.name.split(' ').slice(1).join(' ');
  const mine = (command: string): boolean => command === prefix || command.startsWith(`${prefix} `);
  return {
    name: parent.name,
    source: `${parent.source}; ${prefix}: ${plugin.source}`,
    combineShort: parent.combineShort,
    commands: [
      ...parent.commands.filter((command) => !mine(command)),
      prefix,
      ...plugin.commands.filter((command) => command !== '').map((command) => `${prefix} ${command}`),
    ],
    flags: (command) => (mine(command) ? [...parent.flags(''), ...plugin.flags(command.slice(prefix.length).trim())] : parent.flags(command)),
    argsAfter: (command) => (mine(command) ? plugin.argsAfter?.(command.slice(prefix.length).trim()) : parent.argsAfter?.(command)),
  };
}
