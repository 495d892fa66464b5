// Every command the docs tell an operator to run, checked against the tool's own flags (issue 14).
//
// Where: README.md, docs/*.md, monitoring/**/*.md, deploy/**/*.md (fences and `code spans`), and the comments of
// deploy/**/*.yaml and compose.yaml. What: every command of a tool that has a flag table, wherever it starts in a
// line (`docker compose exec redpanda rpk ...`, `$(curl ...)`, `sh -c "curl ..."`).
//
// The flag tables (test/helpers/commands.ts has the format):
// - promtool, curl, docker, buildah and docker-compose (1.29): the installed binaries' own help, read at test time
//   (`promtool <command> --help`, `curl --help all`, `docker <command> --help`, ...); under CI=true a missing binary fails.
// - every test/repo/flags/<tool>.json: written down from the tool's source, with the repository, version, commit and
//   files recorded in the file: rpk, the Kafka scripts, kubectl (compared with an installed kubectl when there is one),
//   and the Docker CLI plugins that are not installed here, docker.compose.json and docker.buildx.json, mounted under
//   docker. To check another tool's commands, add its table there.
// Not checked (no table): node dist/main.js and npm run (test/repo/docs.test.ts checks those), and the shell's own
// tools (jq, grep, sort, awk, sed, gzip, tar, go run, sudo, apt-get, umoci, unshare), which the docs use around the
// operator commands, not as commands of their own.
//
// A flag that the tool does not define fails, as does a flag that needs a value and has none, and a subcommand the
// table does not know (so a new `rpk cluster ...` in a doc needs its flags written down first).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type Command,
  checkCommand,
  cobraTool,
  commandsInMarkdown,
  commandsInYamlComments,
  curlTool,
  dockerComposeV1Tool,
  type FlagSpec,
  kubectlHelpFlags,
  loadFlagTables,
  promtoolTool,
  type Tool,
  toolFromTable,
  withPlugin,
} from '../helpers/commands.js';
import { findBinary, requireTool } from '../helpers/tools.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FLAGS = fileURLToPath(new URL('./flags/', import.meta.url));

function filesUnder(directory: string, suffix: string): string[] {
  return readdirSync(join(REPO, directory), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith(suffix) && !name.split('/').includes('node_modules'))
    .map((name) => join(directory, name))
    .sort();
}

const MARKDOWN = ['README.md', ...filesUnder('docs', '.md'), ...filesUnder('monitoring', '.md'), ...filesUnder('deploy', '.md')];
const YAML = ['compose.yaml', ...filesUnder('deploy', '.yaml'), ...filesUnder('deploy', '.yml')];

/** The JSON tables: a table whose tool is two words (`docker compose`, `docker buildx`) is a plugin, mounted on its parent. */
function jsonTables(): { tools: Tool[]; plugins: Tool[] } {
  const all = loadFlagTables(FLAGS).map(toolFromTable);
  return { tools: all.filter((tool) => !tool.name.includes(' ')), plugins: all.filter((tool) => tool.name.includes(' ')) };
}

/**
 * Every tool: promtool, curl, docker, buildah and docker-compose from their installed binaries, the JSON tables, and the
 * plugin tables under docker. Undefined after skipping (or failing under CI=true) when a binary is missing.
 */
function allTools(t: TestContext): Tool[] | undefined {
  const promtool = requireTool(t, 'promtool', findBinary('promtool'), 'apt-get install prometheus (it brings promtool)');
  const curl = requireTool(t, 'curl', findBinary('curl'), 'apt-get install curl');
  // The Docker client answers `docker <command> --help` without an engine; this kind of machine ships it.
  const docker = requireTool(t, 'docker', findBinary('docker'), 'the Docker CLI (Debian: apt-get install docker-cli or docker.io)');
  const buildah = requireTool(t, 'buildah', findBinary('buildah'), 'apt-get install buildah');
  const compose = requireTool(t, 'docker-compose', findBinary('docker-compose'), 'apt-get install docker-compose');
  if (promtool === undefined || curl === undefined || docker === undefined || buildah === undefined || compose === undefined) return undefined;
  const { tools, plugins } = jsonTables();
  const dockerTool = plugins.filter((plugin) => plugin.name.startsWith('docker ')).reduce(withPlugin, cobraTool('docker', docker, ['--version'], 'run'));
  return [promtoolTool(promtool), curlTool(curl), dockerTool, cobraTool('buildah', buildah, ['--version'], 'push'), dockerComposeV1Tool(compose), ...tools];
}

function documentedCommands(names: ReadonlySet<string>): Command[] {
  return [
    ...MARKDOWN.flatMap((file) => commandsInMarkdown(file, readFileSync(join(REPO, file), 'utf8'), names)),
    ...YAML.flatMap((file) => commandsInYamlComments(file, readFileSync(join(REPO, file), 'utf8'), names)),
  ];
}

function problemsOf(tools: readonly Tool[], commands: readonly Command[]): string[] {
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  return commands.flatMap((command) =>
    checkCommand(byName.get(command.tool)!, command.args).map((problem) => `${command.where}: ${problem}\n    ${command.tool} ${command.args.join(' ')}`),
  );
}

test('every flag table records where its flags were read', () => {
  const tables = loadFlagTables(FLAGS);
  assert.ok(tables.length >= 3, `test/repo/flags/ has ${tables.length} tables`);
  for (const table of tables) {
    assert.match(table.source.commit, /^[0-9a-f]{40}$/, `${table.tool}: source.commit`);
    assert.ok(table.source.repo.includes('/') && table.source.version !== '' && table.source.files.length > 0, `${table.tool}: source.repo, version, files`);
    for (const [command, flags] of Object.entries({ '(global)': table.global, ...table.commands }))
      for (const flag of flags) assert.match(flag, /^-\w(\|--[\w.-]+)?(=\??)?$|^--[\w.-]+(=\??)?$/, `${table.tool} ${command}: ${flag}`);
  }
});

test('every command in the docs uses only flags its tool defines', (t) => {
  const tools = allTools(t);
  if (tools === undefined) return;
  const commands = documentedCommands(new Set(tools.map((tool) => tool.name)));
  const count = (name: string): number => commands.filter((command) => command.tool === name).length;
  for (const tool of tools) t.diagnostic(`${tool.name}: ${count(tool.name)} commands, flags from ${tool.source}`);
  // The extraction finds them at all: the runbooks name each of these tools.
  for (const [name, least] of [
    ['curl', 50],
    ['promtool', 3],
    ['rpk', 10],
    ['kafka-consumer-groups.sh', 8],
    ['kafka-console-consumer.sh', 3],
    ['kubectl', 40],
    ['docker', 50],
    ['docker-compose', 1],
    ['buildah', 3],
  ] as const)
    assert.ok(count(name) >= least, `${name}: ${count(name)} commands found in the docs, expected at least ${least}`);
  assert.deepEqual(problemsOf(tools, commands), []);
});

test('the checker fails an unknown flag: a sample of bad commands, each caught', (t) => {
  const tools = allTools(t);
  if (tools === undefined) return;
  const names = new Set(tools.map((tool) => tool.name));
  const sample = [
    '# Runbook',
    '',
    'Find the owner: `rpk group describe crm-events-sse --lag`.',
    '',
    '```bash',
    "docker compose exec redpanda rpk topic consume aetherlink.events --partition 3 --offset -200 --num 200 --format '%k\\n'",
    'rpk topic consume aetherlink.events -p 3 -o -200 -n 200 -f "%k\\n" | sort | uniq -c',
    'kafka-consumer-groups.sh --bootstrap-server broker:9092 --describe --grp crm-events-sse',
    'kafka-console-consumer.sh --bootstrap-server broker:9092 --topic t --partition 3 --offset 100 --max-message 5',
    '/opt/kafka/bin/kafka-console-consumer.sh --bootstrap-server broker:9092 --topic t --partition 3 --offset 100 --max-messages',
    "curl -s --data-urlencodee 'query=up' localhost:9090/api/v1/query | jq .",
    'promtool check rules --strict monitoring/prometheus-crm-events-rules.yml',
    'promtool test rules monitoring/tests/rules.test.yml',
    'rpk cluster maintenance status --watch',
    'rpk topic consume t -o -200 -n 5',
    'kubectl logs deploy/crm-events-sse -c health-probe --prev',
    'kubectl -n kafka exec -i my-cluster-kafka-0 -- /opt/kafka/bin/kafka-consumer-groups.sh --bootstrap-server b:9092 --describe --group g',
    'kubectl rollout status deployment/crm-events-sse --timeout',
    'docker kill --sig HUP crm-events-health',
    'docker run --rm IMAGE --version',
    'docker compose logs --tail 20 --since-time 30m crm-events-health',
    'docker compose --profile autoheal up -d --scale crm-events=2 --detatch',
    'docker compose run --rm --no-deps crm-events-health check --json',
    'docker-compose config --quiet --strict',
    'docker buildx build --outputs type=image .',
    'buildah push --compression gzip IMAGE oci:out',
    '```',
  ].join('\n');
  const commands = commandsInMarkdown('SAMPLE.md', sample, names);
  const problems = problemsOf(tools, commands).map((problem) => problem.split('\n')[0]);
  assert.deepEqual(problems, [
    'SAMPLE.md:6: unknown flag --partition for rpk topic consume',
    'SAMPLE.md:8: unknown flag --grp for kafka-consumer-groups.sh',
    'SAMPLE.md:9: unknown flag --max-message for kafka-console-consumer.sh',
    'SAMPLE.md:10: --max-messages needs a value (kafka-console-consumer.sh)',
    'SAMPLE.md:11: unknown flag --data-urlencodee for curl',
    'SAMPLE.md:12: unknown flag --strict for promtool check rules',
    'SAMPLE.md:14: no such subcommand in the flag table: rpk cluster maintenance',
    'SAMPLE.md:14: unknown flag --watch for rpk',
    'SAMPLE.md:16: unknown flag --prev for kubectl logs',
    'SAMPLE.md:18: --timeout needs a value (kubectl rollout status)',
    'SAMPLE.md:19: unknown flag --sig for docker kill',
    'SAMPLE.md:21: unknown flag --since-time for docker compose logs',
    'SAMPLE.md:22: unknown flag --detatch for docker compose up',
    'SAMPLE.md:24: unknown flag --strict for docker-compose config',
    'SAMPLE.md:25: unknown flag --outputs for docker buildx build',
    'SAMPLE.md:26: unknown flag --compression for buildah push',
    'SAMPLE.md:3: unknown flag --lag for rpk group describe',
  ]);
  // Line 17 (kubectl exec ... -- a command of its own), 20 and 23 (the container's words after IMAGE and the service) pass.
  // Line 7 (the fixed form), 13 and 15 pass; without -o's value, -200 would read as flags -2 -0 -0.
  const rpk = tools.find((tool) => tool.name === 'rpk')!;
  assert.deepEqual(checkCommand(rpk, ['topic', 'consume', 't', '-p', '3', '-200']), ['unknown flag -200 for rpk topic consume']);
  // YAML comments: a comment that starts with a tool, and code spans.
  const yaml = ['# Apply: `promtool check rules --bogus x.yml`', '#   curl -fsSo /dev/null --retry-all http://x/ready', 'key: value # not a command'].join('\n');
  assert.deepEqual(
    problemsOf(tools, commandsInYamlComments('x.yaml', yaml, names)).map((problem) => problem.split('\n')[0]),
    ['x.yaml:1: unknown flag --bogus for promtool check rules', 'x.yaml:2: unknown flag --retry-all for curl'],
  );
});

test('kubectl.json agrees with an installed kubectl: `kubectl <command> --help` and `kubectl options`', (t) => {
  const binary = findBinary('kubectl');
  // Not required: the table is the check, written from kubectl's source; no registry reached here has kubectl 1.32.
  if (binary === undefined) return t.skip('kubectl is not installed: the table stands on its source alone');
  const table = loadFlagTables(FLAGS).find((candidate) => candidate.tool === 'kubectl')!;
  const help = (args: readonly string[]): string => {
    const result = spawnSync(binary, args, { encoding: 'utf8', timeout: 20_000 });
    return `${result.stdout}${result.stderr}`;
  };
  const render = (flags: readonly FlagSpec[]): string[] => flags.map((flag) => `${flag.names.join('|')}${flag.value ? '=' : ''}`).sort();
  // The table marks optional values (=?) that the help prints as plain defaults (--dry-run='none').
  const plain = (flags: readonly string[]): string[] => flags.map((flag) => flag.replace(/=\?$/, '=')).sort();
  t.diagnostic(help(['version', '--client']).split('\n')[0]!);
  assert.deepEqual(plain(table.global.filter((flag) => flag !== '-h|--help')), render(kubectlHelpFlags(help(['options']))), 'global flags');
  for (const [command, flags] of Object.entries(table.commands))
    assert.deepEqual(plain(flags), render(kubectlHelpFlags(help([...command.split(' '), '--help']))), `kubectl ${command}`);
});
