// The ways to run the probe, checked by machine: compose.yaml (Debian's docker-compose 1.29 validates it; the
// hardening is asserted on the parsed file), the Kubernetes manifests under deploy/kubernetes/ (validated against
// the vendored Kubernetes and prometheus-operator schemas in deploy/schema/, plus the security, probe, Secret,
// disruption, spreading and scraping wiring the design asks for), the
// Prometheus configuration the stack loads (promtool), and the environment variables they all set.
//
// YAML is read by Debian's python3-yaml (PyYAML, the parser docker-compose itself uses) through python3, converted to
// JSON: no YAML parser in node_modules. Without python3-yaml, docker-compose or promtool the tests that need them
// skip with a loud message, and fail under CI=true.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import test, { type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, VARIABLES } from '../../src/config/load.js';
import { findBinary, requireTool } from '../helpers/tools.js';
import { loadYaml } from '../helpers/yaml.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE = join(REPO, 'compose.yaml');
const K8S_DIR = join(REPO, 'deploy/kubernetes');
const SCHEMA_DIR = join(REPO, 'deploy/schema');
const PROMETHEUS_CONFIG = join(REPO, 'monitoring/prometheus.yml');
const DOCKERFILE = join(REPO, 'Dockerfile.distroless');

/** Every variable the probe reads (README.md, "Configuration", and the secured-Prometheus ones). */
const PROBE_ENV = [
  'PROMETHEUS_URL',
  'KAFKA_GROUP',
  'CHECKS_FILE',
  'SKEW_THRESHOLD',
  'SKEW_MIN_LAG',
  'MIN_CONSUMERS',
  'PORT',
  'HOST',
  'CHECK_INTERVAL',
  'QUERY_TIMEOUT',
  'STALE_AFTER',
  'SKEW_FOR',
  'DRAIN_GRACE',
  'DRAIN_WINDOW',
  'STALL_AFTER',
  'MAX_LAG_SECONDS',
  'DRY_RUN',
  'ON_PROMETHEUS_ERROR',
  'ON_NO_DATA',
  'ACCEPT_PARTIAL',
  'FLEET_MAX_UNREADY',
  'FLEET_ROTATE',
  'FLEET_LABEL',
  'POD_NAME',
  'POD_NAMESPACE',
  'SHUTDOWN_DELAY',
  'PROMETHEUS_BEARER_TOKEN_FILE',
  'PROMETHEUS_USERNAME',
  'PROMETHEUS_PASSWORD_FILE',
  'PROMETHEUS_HEADERS',
  'PROMETHEUS_CA_FILE',
  'PROMETHEUS_CERT_FILE',
  'PROMETHEUS_KEY_FILE',
  'PROMETHEUS_TLS_INSECURE_SKIP_VERIFY',
] as const;
const PROBE_ENV_SET: ReadonlySet<string> = new Set(PROBE_ENV);

const PROBE_SERVICE = 'crm-events-health';
const PROBE_CONTAINER = 'health-probe';
const CONSUMER_CONTAINER = 'crm-events';
const PROBE_PORT = 9011;
const NONROOT_UID = 65532;
/** Variables of the other services, by service or container name: each belongs to that program. */
const OTHER_ENV: Readonly<Record<string, RegExp>> = {
  autoheal: /^(?:AUTOHEAL_[A-Z_]+|DOCKER_SOCK|CURL_TIMEOUT|WEBHOOK_URL)$/,
  grafana: /^GF_[A-Z0-9_]+$/,
  [CONSUMER_CONTAINER]: /^(?:KAFKA_BROKERS|KAFKA_TOPIC|KAFKA_GROUP)$/,
};
/** Variables compose.yaml interpolates from the user's shell. */
const COMPOSE_INTERPOLATED = new Set(['DOCKER_GID']);

// ---------------------------------------------------------------------------------------------------------------
// Tools

function run(binary: string, args: readonly string[], cwd = REPO): { code: number | null; output: string } {
  const result = spawnSync(binary, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (result.error !== undefined) throw result.error;
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

// ---------------------------------------------------------------------------------------------------------------
// compose.yaml

interface ComposeHealthcheck {
  readonly test?: string | readonly string[];
  readonly [key: string]: unknown;
}
interface ComposeService {
  readonly image?: string;
  readonly build?: string | { readonly context?: string; readonly dockerfile?: string; readonly args?: Readonly<Record<string, string>> };
  readonly user?: string | number;
  readonly read_only?: boolean;
  readonly cap_drop?: readonly string[];
  readonly security_opt?: readonly string[];
  readonly privileged?: boolean;
  readonly network_mode?: string;
  readonly pid?: string;
  readonly healthcheck?: ComposeHealthcheck;
  readonly depends_on?: readonly string[] | Readonly<Record<string, { readonly condition?: string }>>;
  readonly environment?: readonly string[] | Readonly<Record<string, unknown>>;
  readonly ports?: readonly unknown[];
  readonly labels?: readonly string[] | Readonly<Record<string, string>>;
  readonly profiles?: readonly string[];
  readonly restart?: string;
  readonly command?: string | readonly string[];
  readonly volumes?: readonly unknown[];
}
interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>;
}

function loadCompose(t: TestContext): ComposeFile | undefined {
  const docs = loadYaml(t, [COMPOSE]);
  if (docs === undefined) return undefined;
  assert.equal(docs[0]?.length, 1, 'compose.yaml is one YAML document');
  return docs[0]![0] as ComposeFile;
}

function envNames(environment: ComposeService['environment']): string[] {
  if (environment === undefined) return [];
  if (Array.isArray(environment)) return environment.map((entry) => String(entry).split('=')[0]!);
  return Object.keys(environment);
}

function envValue(service: ComposeService, name: string): string | undefined {
  const environment = service.environment;
  if (environment === undefined) return undefined;
  if (Array.isArray(environment)) {
    const entry = environment.map(String).find((e) => e.split('=')[0] === name);
    return entry?.slice(name.length + 1);
  }
  const value = (environment as Readonly<Record<string, unknown>>)[name];
  return value === undefined || value === null ? undefined : String(value);
}

function labelValue(service: ComposeService, name: string): string | undefined {
  const labels = service.labels;
  if (labels === undefined) return undefined;
  if (Array.isArray(labels))
    return labels
      .map(String)
      .find((l) => l.split('=')[0] === name)
      ?.split('=')[1];
  return (labels as Readonly<Record<string, string>>)[name];
}

/** name[:tag][@digest]: pinned means a tag other than latest, or a digest. */
function assertPinned(image: string | undefined, where: string): void {
  assert.ok(image !== undefined && image !== '', `${where}: no image`);
  if (image.includes('@sha256:')) return;
  const lastSegment = image.split('/').pop()!;
  const tag = lastSegment.includes(':') ? lastSegment.split(':').pop()! : '';
  assert.ok(tag !== '' && tag !== 'latest', `${where}: image ${image} is not pinned to a tag`);
}

function assertNonRootUser(user: string | number | undefined, where: string): void {
  assert.ok(user !== undefined && String(user) !== '', `${where}: no user (it would run as the image's, maybe root)`);
  const name = String(user).split(':')[0]!;
  assert.ok(name !== '0' && name !== 'root', `${where}: runs as root (${String(user)})`);
}

/** The HEALTHCHECK CMD of Dockerfile.distroless, as an argv, when the file exists. */
function dockerfileHealthcheck(): string[] | undefined {
  if (!existsSync(DOCKERFILE)) return undefined;
  const joined = readFileSync(DOCKERFILE, 'utf8').replace(/\\\r?\n/g, ' ');
  const match = /^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$/m.exec(joined);
  assert.ok(match !== null, 'Dockerfile.distroless has no exec-form HEALTHCHECK CMD [...]');
  return JSON.parse(match[1]!) as string[];
}

test('docker-compose config -q accepts compose.yaml, and rejects what 1.29 rejects', (t) => {
  const compose = requireTool(t, 'docker-compose', findBinary('docker-compose'), 'apt-get install docker-compose');
  if (compose === undefined) return;
  const version = run(compose, ['version', '--short']);
  t.diagnostic(`docker-compose ${version.output.trim()}`);

  const { code, output } = run(compose, ['-f', COMPOSE, 'config', '-q']);
  assert.equal(code, 0, output);
  assert.equal(output.trim(), '', 'no warnings');

  // The validator is real: the same file with a healthcheck.start_interval (Compose 2.20+) is refused by 1.29.
  const dir = mkdtempSync(join(tmpdir(), 'compose-check-'));
  try {
    const text = readFileSync(COMPOSE, 'utf8');
    const broken = text.replace(/^( {6})start_period: 10s$/m, '$1start_period: 10s\n$1start_interval: 1s');
    assert.notEqual(broken, text);
    writeFileSync(join(dir, 'compose.yaml'), broken);
    const refused = run(compose, ['-f', join(dir, 'compose.yaml'), 'config', '-q'], dir);
    assert.notEqual(refused.code, 0, 'docker-compose accepted start_interval: is it 1.29?');
    assert.match(refused.output, /start_interval/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('compose: every service is hardened, non-root, pinned and checked in exec form', (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  const names = Object.keys(compose.services);
  for (const expected of ['redpanda', 'kafka-exporter', 'prometheus', PROBE_SERVICE, 'crm-events', 'autoheal']) {
    assert.ok(names.includes(expected), `service ${expected} is missing`);
  }
  for (const [name, service] of Object.entries(compose.services)) {
    assert.equal(service.read_only, true, `${name}: read_only`);
    assert.ok(service.cap_drop?.includes('ALL'), `${name}: cap_drop [ALL]`);
    assert.ok(
      service.security_opt?.some((opt) => opt === 'no-new-privileges:true' || opt === 'no-new-privileges'),
      `${name}: security_opt no-new-privileges`,
    );
    assert.notEqual(service.privileged, true, `${name}: privileged`);
    assert.ok(service.network_mode !== 'host' && service.pid !== 'host', `${name}: host namespaces`);
    assertNonRootUser(service.user, name);
    assertPinned(service.image, name);
    if (service.healthcheck !== undefined) {
      const check = service.healthcheck.test;
      assert.ok(Array.isArray(check) && check[0] === 'CMD', `${name}: healthcheck must be exec form ["CMD", ...]`);
      assert.ok(!('start_interval' in service.healthcheck), `${name}: start_interval (docker-compose 1.29 rejects it)`);
    }
    for (const port of service.ports ?? []) {
      assert.match(String(port), /^127\.0\.0\.1:\d+:\d+$/, `${name}: publish on loopback only`);
    }
  }
});

test('compose: depends_on waits for health, and every waited-for service has a healthcheck', (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  let healthy = 0;
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.depends_on === undefined) continue;
    assert.ok(!Array.isArray(service.depends_on), `${name}: depends_on needs conditions, not a list`);
    for (const [target, { condition }] of Object.entries(service.depends_on as Record<string, { condition?: string }>)) {
      const dependency: ComposeService | undefined = compose.services[target];
      assert.ok(dependency !== undefined, `${name} depends on unknown ${target}`);
      if (condition === 'service_healthy') {
        healthy += 1;
        assert.ok(dependency.healthcheck !== undefined, `${name} waits for ${target}, which has no healthcheck`);
      } else {
        assert.equal(condition, 'service_completed_successfully', `${name} -> ${target}: condition`);
        assert.equal(dependency.restart, 'no', `${target} runs once`);
      }
    }
  }
  assert.ok(healthy >= 4, `${healthy} service_healthy dependencies`);
  assert.deepEqual(Object.keys(compose.services[PROBE_SERVICE]?.depends_on ?? {}), ['prometheus']);
});

/** Every service a service waits for, directly or through the services it waits for. */
function dependencyClosure(compose: ComposeFile, start: string): Set<string> {
  const seen = new Set<string>();
  const pending = [start];
  while (pending.length > 0) {
    const service = compose.services[pending.pop()!];
    const dependsOn = service?.depends_on;
    const targets = dependsOn === undefined ? [] : Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn);
    for (const target of targets) {
      if (seen.has(target)) continue;
      seen.add(target);
      pending.push(target);
    }
  }
  return seen;
}

/** The consumers: the services that join a consumer group (`--group=` in their command). */
function consumerServices(compose: ComposeFile): string[] {
  return Object.entries(compose.services)
    .filter(([, service]) => Array.isArray(service.command) && service.command.some((arg) => String(arg).startsWith('--group=')))
    .map(([name]) => name);
}

/** A healthcheck's command as the container runs it: compose turns `$$` into `$` when it reads the file. */
function healthcheckArgv(service: ComposeService | undefined, where: string): string[] {
  const check = service?.healthcheck?.test;
  assert.ok(Array.isArray(check) && check[0] === 'CMD', `${where}: exec-form healthcheck`);
  return check.slice(1).map((arg) => arg.replaceAll('$$', '$'));
}

test('compose: monitoring never gates the workload; the consumers wait only for the broker and their topic', (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  const consumers = consumerServices(compose);
  assert.deepEqual(consumers, ['crm-events']);
  const monitoring = ['kafka-exporter', 'prometheus', PROBE_SERVICE, 'grafana', 'autoheal'];
  for (const name of monitoring) assert.ok(name in compose.services, `${name} is not a service: update this list`);
  for (const consumer of consumers) {
    const waitsFor = dependencyClosure(compose, consumer);
    for (const name of monitoring) assert.ok(!waitsFor.has(name), `${consumer} waits for ${name}: monitoring would gate the workload`);
    assert.deepEqual([...waitsFor].sort(), ['redpanda', 'redpanda-init']);
    const dependsOn = compose.services[consumer]!.depends_on as Record<string, { condition?: string }>;
    assert.equal(dependsOn.redpanda?.condition, 'service_healthy');
    assert.equal(dependsOn['redpanda-init']?.condition, 'service_completed_successfully');
  }
  // Prometheus scrapes what is up: it waits for no exporter.
  assert.deepEqual(Object.keys(compose.services.prometheus?.depends_on ?? {}), []);
});

test('compose: the broker healthcheck proves the cluster healthy and the Kafka listener answering', (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  const redpanda = compose.services.redpanda!;
  const script = healthcheckArgv(redpanda, 'redpanda').join(' ');
  // Without --exit-when-healthy, `rpk cluster health` exits 0 on "Healthy: false" (rpk's cluster/health.go).
  assert.match(script, /rpk cluster health (?:--exit-when-healthy|-e)\b/);
  const advertised = (redpanda.command as string[]).find((arg) => arg.startsWith('--advertise-kafka-addr='));
  const address = advertised?.split('//')[1];
  assert.ok(address !== undefined, 'redpanda advertises a Kafka address');
  assert.ok(script.includes(`rpk cluster info --print-brokers -X brokers=${address}`), 'a Kafka API call to the advertised listener');
  const timeout = Number.parseInt(String(redpanda.healthcheck?.timeout), 10);
  assert.ok(timeout >= 5, 'the timeout ends a health wait that never turns healthy');
});

/** A local HTTP server that answers every request with `status` and `body`, or never answers when status is 0. */
async function withServer<T>(status: number, body: string, use: (port: number) => Promise<T>): Promise<T> {
  const { createServer } = await import('node:http');
  const server = createServer((_request, response) => {
    if (status === 0) return; // hang
    response.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  try {
    return await use(address.port);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function exitCode(argv: readonly string[], timeoutMs: number): Promise<number | null> {
  const { spawn } = await import('node:child_process');
  return await new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: timeoutMs, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNAME: 'crm-events-1' } });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

test("compose: a consumer's healthcheck fails only on the probe's 500, never because monitoring is down", async (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  const bash = requireTool(t, 'bash', findBinary('bash'), 'apt-get install bash');
  if (bash === undefined) return;
  const argv = healthcheckArgv(compose.services['crm-events'], 'crm-events');
  assert.equal(argv[0], 'bash');
  const timeoutMs = Number.parseInt(String(compose.services['crm-events']!.healthcheck?.timeout), 10) * 1000;
  const at = (host: string, port: number): string[] => argv.map((arg) => arg.replaceAll(`/dev/tcp/${PROBE_SERVICE}/${PROBE_PORT}`, `/dev/tcp/${host}/${port}`));
  assert.notDeepEqual(at('127.0.0.1', 1), argv, `the healthcheck connects to /dev/tcp/${PROBE_SERVICE}/${PROBE_PORT}`);
  const cases: ReadonlyArray<[string, number, number]> = [
    ['200: ready, or held ready', 200, 0],
    ["500: not ready, this replica's turn", 500, 1],
    ['503: the probe is starting or shutting down', 503, 0],
    ['the probe does not answer', 0, 0],
  ];
  for (const [what, status, expected] of cases) {
    const started = Date.now();
    const code: number | null = await withServer(status, '{}', (port) => exitCode([bash, ...at('127.0.0.1', port).slice(1)], timeoutMs + 5000));
    assert.equal(code, expected, what);
    assert.ok(Date.now() - started < timeoutMs, `${what}: answered within the healthcheck timeout (${timeoutMs} ms)`);
  }
  // Nothing listening (the probe's container stopped), and its name unknown (the probe not deployed at all).
  const { createServer } = await import('node:net');
  const closed = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  assert.equal(await exitCode([bash, ...at('127.0.0.1', closed).slice(1)], timeoutMs), 0, 'connection refused');
  assert.equal(await exitCode([bash, ...at('probe.invalid', PROBE_PORT).slice(1)], timeoutMs), 0, 'unknown host');
  // The request names this container: the fake server sees ?replica=<HOSTNAME>.
  const { createServer: createHttpServer } = await import('node:http');
  const seen: string[] = [];
  const server = createHttpServer((request, response) => {
    seen.push(request.url ?? '');
    response.writeHead(200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as { port: number };
    assert.equal(await exitCode([bash, ...at('127.0.0.1', port).slice(1)], timeoutMs), 0);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  assert.deepEqual(seen, ['/ready?replica=crm-events-1']);
});

test("compose: the exporter's healthcheck reads kafka_brokers from /metrics, not the /healthz that always says ok", async (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  const exporter = compose.services['kafka-exporter']!;
  const argv = healthcheckArgv(exporter, 'kafka-exporter');
  const script = argv.join(' ');
  assert.ok(!script.includes('/healthz'), 'kafka_exporter v1.8.0 answers "ok" on /healthz whatever the broker');
  assert.match(script, /http:\/\/127\.0\.0\.1:9308\/metrics/);
  assert.equal(argv[0], 'sh', 'the image is quay.io/prometheus/busybox: sh, wget and grep');
  // Run it with the host's sh, wget and grep against a stand-in /metrics.
  const sh = requireTool(t, 'sh', findBinary('sh'), 'apt-get install dash');
  const wget = requireTool(t, 'wget', findBinary('wget'), 'apt-get install wget');
  if (sh === undefined || wget === undefined) return;
  const metrics = (brokers: number): string =>
    `# HELP kafka_brokers Number of Brokers in the Kafka Cluster.\n# TYPE kafka_brokers gauge\nkafka_brokers ${brokers}\nkafka_topic_partitions{topic="x"} 8\n`;
  for (const [brokers, expected] of [
    [1, 0],
    [12, 0],
    [0, 1],
  ] as const) {
    const code: number | null = await withServer(200, metrics(brokers), (port) =>
      exitCode([sh, ...argv.slice(1).map((arg) => arg.replace('127.0.0.1:9308', `127.0.0.1:${port}`))], 10_000),
    );
    assert.equal(code, expected, `kafka_brokers ${brokers}`);
  }
  const failing: number | null = await withServer(500, 'collector failed', (port) =>
    exitCode([sh, ...argv.slice(1).map((arg) => arg.replace('127.0.0.1:9308', `127.0.0.1:${port}`))], 10_000),
  );
  assert.equal(failing, 1, '/metrics 500');
});

test('compose: autoheal is built from a fixed upstream commit on a supported Alpine, not a 2021 image', (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  const autoheal = compose.services.autoheal!;
  const build = autoheal.build;
  assert.ok(typeof build === 'object', 'autoheal is built');
  assert.match(build.context ?? '', /^https:\/\/github\.com\/willfarrell\/docker-autoheal\.git#[0-9a-f]{40}$/, 'a full commit, not a branch');
  assert.match(String(build.args?.ALPINE_VERSION), /^3\.\d+$/);
  assert.ok(Number(String(build.args?.ALPINE_VERSION).split('.')[1]) >= 21, 'an Alpine branch still supported');
  assert.ok(!String(autoheal.image).startsWith('willfarrell/autoheal:'), 'a local tag: the published 1.2.0 is a 2021 build');
  assert.equal(envValue(autoheal, 'AUTOHEAL_ONLY_MONITOR_RUNNING'), 'true');
});

test("compose: the probe is built from Dockerfile.distroless and its healthcheck is the image's, on /health", (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  const probe = compose.services[PROBE_SERVICE];
  assert.ok(probe !== undefined);
  const build = probe.build;
  assert.ok(typeof build === 'object' && build.dockerfile === 'Dockerfile.distroless' && build.context === '.');
  assert.equal(String(probe.user), `${NONROOT_UID}:${NONROOT_UID}`);
  const check = probe.healthcheck?.test as string[];
  // `healthcheck` with no path asks /health: liveness, never /ready (autoheal watches this container).
  assert.equal(check.at(-1), 'healthcheck');
  assert.ok(!check.some((arg) => arg.includes('/ready')));
  const fromImage = dockerfileHealthcheck();
  if (fromImage === undefined) {
    t.diagnostic('Dockerfile.distroless not found: healthcheck not compared with the image');
    assert.match(check.at(-2) ?? '', /(^|\/)dist\/main\.js$/);
  } else {
    assert.deepEqual(check.slice(1), fromImage, 'compose healthcheck differs from the image HEALTHCHECK');
  }
  assert.equal(labelValue(probe, 'autoheal'), 'true');
});

test('compose: autoheal is optional, label-scoped, and watches /health, or /ready only when each replica names itself', (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  const autoheal = compose.services.autoheal;
  assert.ok(autoheal !== undefined);
  assert.deepEqual(autoheal.profiles, ['autoheal']);
  assert.equal(envValue(autoheal, 'AUTOHEAL_CONTAINER_LABEL'), 'autoheal', 'not "all": only labelled containers');
  for (const [name, service] of Object.entries(compose.services)) {
    if (labelValue(service, 'autoheal') !== 'true') continue;
    const check = JSON.stringify(service.healthcheck?.test ?? []);
    assert.ok(service.healthcheck !== undefined, `${name} is watched by autoheal but has no healthcheck`);
    if (!check.includes('/ready')) continue;
    // On /ready, every replica gets the same group-wide verdict and autoheal restarts them all together (a restart
    // storm; RUNBOOK_HOTKEY_SKEW.md) unless each names itself, so that the probe's fleet limit caps the failures:
    // `$$HOSTNAME` is the container's own host name at each call (compose turns `$$` into `$`, not into a value).
    assert.ok(check.includes('/ready?replica='), `${name}: autoheal restarting on /ready without ?replica= restarts every replica at once`);
    assert.ok(check.includes('$$HOSTNAME'), `${name}: ?replica= must be the container's own $$HOSTNAME, read when the check runs`);
    const limit = envValue(compose.services[PROBE_SERVICE]!, 'FLEET_MAX_UNREADY') ?? VARIABLES.FLEET_MAX_UNREADY.default;
    assert.notEqual(limit, '100%', `${name}: FLEET_MAX_UNREADY=100% lets autoheal restart every replica at once`);
  }
});

test('compose: the probe judges the group the consumers join, and Prometheus loads the rules and scrapes both', (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  const probe = compose.services[PROBE_SERVICE]!;
  const consumer = compose.services['crm-events']!;
  const groupArg = (consumer.command as string[]).find((arg) => arg.startsWith('--group='));
  assert.equal(groupArg, `--group=${envValue(probe, 'KAFKA_GROUP')}`);

  const prometheus = compose.services.prometheus!;
  assert.ok(prometheus.volumes?.includes('./monitoring:/etc/prometheus:ro'));
  assert.ok((prometheus.command as string[]).includes('--config.file=/etc/prometheus/prometheus.yml'));
  const config = loadYaml(t, [PROMETHEUS_CONFIG])?.[0]?.[0] as
    | { rule_files: string[]; scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] }
    | undefined;
  assert.ok(config !== undefined);
  for (const file of config.rule_files) assert.ok(existsSync(join(REPO, 'monitoring', file)), `rule file ${file}`);
  assert.ok(config.rule_files.includes('prometheus-crm-events-rules.yml'));
  const targets = config.scrape_configs.flatMap((job) => job.static_configs.flatMap((s) => s.targets));
  assert.ok(targets.includes(`${PROBE_SERVICE}:${envValue(probe, 'PORT') ?? PROBE_PORT}`));
  const exporter = compose.services['kafka-exporter']!;
  assert.ok((exporter.command as string[]).includes('--web.listen-address=:9308'));
  assert.ok((exporter.command as string[]).includes('--kafka.server=redpanda:9092'));
  assert.ok(targets.includes('kafka-exporter:9308'));
  for (const target of targets) {
    const host = target.split(':')[0]!;
    assert.ok(host === 'localhost' || host in compose.services, `scrape target ${target} is not a service`);
  }
  const grafana = compose.services.grafana!;
  for (const volume of grafana.volumes ?? []) {
    const source = String(volume).split(':')[0]!;
    if (source.startsWith('./')) assert.ok(existsSync(join(REPO, source)), `grafana mounts missing ${source}`);
  }
});

test('promtool check config accepts monitoring/prometheus.yml and the rules it loads', (t) => {
  const promtool = requireTool(t, 'promtool', findBinary('promtool'), 'apt-get install prometheus');
  if (promtool === undefined) return;
  const { code, output } = run(promtool, ['check', 'config', PROMETHEUS_CONFIG]);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS: 1 rule files found/);
  assert.match(output, /SUCCESS: 17 rules found/);
});

test('compose: every environment variable is one the probe reads or belongs to the service that has it', (t) => {
  const compose = loadCompose(t);
  if (compose === undefined) return;
  for (const [name, service] of Object.entries(compose.services)) {
    for (const variable of envNames(service.environment)) {
      if (name === PROBE_SERVICE) {
        assert.ok(PROBE_ENV_SET.has(variable), `${name}: ${variable} is not a variable the probe reads`);
      } else {
        const own = OTHER_ENV[name];
        assert.ok(own?.test(variable), `${name}: ${variable} is not one of ${name}'s variables`);
      }
    }
  }
  // `$$NAME` is compose's escape for a literal `$NAME` (the container's shell reads it), not an interpolation.
  const interpolated = [...readFileSync(COMPOSE, 'utf8').matchAll(/(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  for (const variable of interpolated) assert.ok(COMPOSE_INTERPOLATED.has(variable), `compose interpolates ${variable}`);
});

test('the probe variables listed here are the ones src/config/load.ts reads', () => {
  assert.deepEqual(Object.keys(VARIABLES).sort(), [...PROBE_ENV].sort());
});

// ---------------------------------------------------------------------------------------------------------------
// deploy/kubernetes

interface Schema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | Schema;
  readonly items?: Schema;
  readonly enum?: readonly unknown[];
  readonly oneOf?: readonly Schema[];
  readonly $ref?: string;
  readonly format?: string;
}
interface SchemaFile {
  /** The Kubernetes release (kubernetes-*.json) or the prometheus-operator release (prometheus-operator-*.json). */
  readonly kubernetes?: string;
  readonly operator?: string;
  readonly source: string;
  readonly kinds: Readonly<Record<string, Schema>>;
  readonly definitions: Readonly<Record<string, Schema>>;
}
const SUPPORTED_KEYWORDS = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'oneOf', '$ref', 'format']);

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/**
 * A JSON-schema validator for the keywords the vendored schemas use (SUPPORTED_KEYWORDS; a test keeps it so).
 * Returns one line per violation, each with its JSON pointer.
 */
export function validateSchema(value: unknown, schema: Schema, root: SchemaFile, path = ''): string[] {
  if (schema.$ref !== undefined) {
    const name = /^#\/definitions\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name === undefined ? undefined : root.definitions[name];
    if (target === undefined) return [`${path || '/'}: unresolved $ref ${schema.$ref}`];
    return validateSchema(value, target, root, path);
  }
  const at = path || '/';
  const errors: string[] = [];
  if (schema.type !== undefined) {
    const allowed = typeof schema.type === 'string' ? [schema.type] : schema.type;
    const actual = jsonType(value);
    const ok = allowed.some((type) => type === actual || (type === 'number' && actual === 'integer'));
    if (!ok) return [`${at}: expected ${allowed.join(' or ')}, got ${actual} ${JSON.stringify(value)}`];
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (schema.format === 'int32' && typeof value === 'number' && Math.abs(value) > 2 ** 31 - 1) {
    errors.push(`${at}: ${value} does not fit int32`);
  }
  if (schema.oneOf !== undefined) {
    const matching = schema.oneOf.filter((option) => validateSchema(value, option, root, path).length === 0).length;
    if (matching !== 1) errors.push(`${at}: matches ${matching} of the oneOf alternatives, not exactly 1`);
  }
  if (jsonType(value) === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (!(name in object)) errors.push(`${at}: required property ${name} is missing`);
    }
    for (const [name, child] of Object.entries(object)) {
      const childPath = `${path}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      const propertySchema = schema.properties?.[name];
      if (propertySchema !== undefined) errors.push(...validateSchema(child, propertySchema, root, childPath));
      else if (schema.additionalProperties === false) errors.push(`${childPath}: unknown property "${name}"`);
      else if (typeof schema.additionalProperties === 'object') {
        errors.push(...validateSchema(child, schema.additionalProperties, root, childPath));
      }
    }
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, index) => errors.push(...validateSchema(item, schema.items!, root, `${path}/${index}`)));
  }
  return errors;
}

/** The two families of vendored schemas: the core kinds, and the prometheus-operator's custom resources. */
type SchemaFamily = 'kubernetes' | 'prometheus-operator';
const OPERATOR_GROUP = 'monitoring.coreos.com/';

function schemaFiles(family: SchemaFamily = 'kubernetes'): { file: string; schema: SchemaFile }[] {
  return readdirSync(SCHEMA_DIR)
    .filter((name) => name.startsWith(`${family}-`) && name.endsWith('.json'))
    .sort()
    .map((file) => ({ file, schema: JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as SchemaFile }));
}

/** Which family of schemas a manifest is validated against. */
function familyOf(manifest: Manifest): SchemaFamily {
  return manifest.apiVersion.startsWith(OPERATOR_GROUP) ? 'prometheus-operator' : 'kubernetes';
}

interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly [key: string]: unknown;
}
interface Probe {
  readonly httpGet?: { readonly path?: string; readonly port: number | string };
  readonly [key: string]: unknown;
}
interface SecurityContext {
  readonly runAsNonRoot?: boolean;
  readonly runAsUser?: number;
  readonly readOnlyRootFilesystem?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
  readonly seccompProfile?: { readonly type?: string };
  readonly privileged?: boolean;
}
interface Container {
  readonly name: string;
  readonly image: string;
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly env?: readonly {
    readonly name: string;
    readonly value?: string;
    readonly valueFrom?: {
      readonly configMapKeyRef?: { readonly name: string; readonly key: string };
      readonly secretKeyRef?: { readonly name: string; readonly key: string };
    };
  }[];
  readonly envFrom?: readonly {
    readonly configMapRef?: { readonly name: string; readonly optional?: boolean };
    readonly secretRef?: { readonly name: string; readonly optional?: boolean };
  }[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly startupProbe?: Probe;
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string>>;
    readonly limits?: Readonly<Record<string, string>>;
  };
  readonly securityContext?: SecurityContext;
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string; readonly readOnly?: boolean }[];
}
interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
}
interface TopologySpreadConstraint {
  readonly maxSkew: number;
  readonly topologyKey: string;
  readonly whenUnsatisfiable: string;
  readonly labelSelector?: LabelSelector;
  readonly matchLabelKeys?: readonly string[];
  readonly nodeTaintsPolicy?: string;
}
interface PodSpec {
  readonly automountServiceAccountToken?: boolean;
  readonly securityContext?: SecurityContext & { readonly fsGroup?: number };
  readonly containers: readonly Container[];
  readonly topologySpreadConstraints?: readonly TopologySpreadConstraint[];
  readonly volumes?: readonly {
    readonly name: string;
    readonly secret?: {
      readonly secretName: string;
      readonly optional?: boolean;
      readonly items?: readonly { readonly key: string; readonly path: string }[];
    };
  }[];
}
interface Deployment extends Manifest {
  readonly spec: {
    readonly replicas?: number;
    readonly selector: LabelSelector;
    readonly template: { readonly metadata: { readonly labels: Readonly<Record<string, string>> }; readonly spec: PodSpec };
  };
}
interface PodDisruptionBudget extends Manifest {
  readonly spec: {
    readonly maxUnavailable?: number | string;
    readonly minAvailable?: number | string;
    readonly selector: LabelSelector;
    readonly unhealthyPodEvictionPolicy?: string;
  };
}
interface PodMonitor extends Manifest {
  readonly spec: {
    readonly selector: LabelSelector;
    readonly namespaceSelector?: unknown;
    readonly podTargetLabels?: readonly string[];
    readonly podMetricsEndpoints?: readonly {
      readonly port?: string;
      readonly path?: string;
      readonly filterRunning?: boolean;
      readonly relabelings?: readonly { readonly action?: string; readonly targetLabel?: string; readonly regex?: string }[];
    }[];
  };
}
interface Kustomization {
  readonly resources: readonly string[];
  readonly images?: readonly { readonly name: string; readonly newTag?: string; readonly newName?: string }[];
}

interface Manifests {
  readonly kustomization: Kustomization;
  readonly all: readonly { readonly file: string; readonly manifest: Manifest }[];
  readonly deployment: Deployment;
  readonly configMaps: ReadonlyMap<string, Manifest & { readonly data?: Readonly<Record<string, string>> }>;
  readonly byKind: (kind: string) => Manifest[];
}

function loadManifests(t: TestContext): Manifests | undefined {
  const kustomizationDocs = loadYaml(t, [join(K8S_DIR, 'kustomization.yaml')]);
  if (kustomizationDocs === undefined) return undefined;
  const kustomization = kustomizationDocs[0]![0] as Kustomization;
  for (const resource of kustomization.resources) {
    assert.ok(existsSync(join(K8S_DIR, resource)), `kustomization lists ${resource}, which does not exist`);
  }
  const yamlFiles = readdirSync(K8S_DIR).filter((name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml');
  assert.deepEqual([...yamlFiles].sort(), [...kustomization.resources].sort(), 'every manifest is in the kustomization');
  const docs = loadYaml(
    t,
    kustomization.resources.map((resource) => join(K8S_DIR, resource)),
  )!;
  const all = docs.flatMap((fileDocs, index) => fileDocs.map((manifest) => ({ file: kustomization.resources[index]!, manifest: manifest as Manifest })));
  const deployments = all.filter(({ manifest }) => manifest.kind === 'Deployment');
  assert.equal(deployments.length, 1);
  const byKind = (kind: string): Manifest[] => all.filter(({ manifest }) => manifest.kind === kind).map(({ manifest }) => manifest);
  return {
    kustomization,
    all,
    deployment: deployments[0]!.manifest as Deployment,
    configMaps: new Map(byKind('ConfigMap').map((m) => [m.metadata.name, m])),
    byKind,
  };
}

function container(deployment: Deployment, name: string): Container {
  const found = deployment.spec.template.spec.containers.find((c) => c.name === name);
  assert.ok(found !== undefined, `container ${name}`);
  return found;
}

/** A probe's port as a number: a number, or the name of one of the container's ports. */
function probePort(c: Container, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  if (port === undefined) return undefined;
  if (typeof port === 'number') return port;
  const named = c.ports?.find((p) => p.name === port);
  assert.ok(named !== undefined, `${c.name}: probe port "${port}" is not a declared port`);
  return named.containerPort;
}

/** Kubernetes quantities: 64Mi -> bytes, 10m -> 0.01. */
function quantity(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(text);
  assert.ok(match !== null, `not a quantity: ${text}`);
  const factor: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(match[1]) * factor[match[2] ?? '']!;
}

test('the vendored schemas say where they come from and use only keywords the validator implements', () => {
  const kubernetes = schemaFiles('kubernetes');
  const operator = schemaFiles('prometheus-operator');
  assert.ok(kubernetes.length >= 1, 'no Kubernetes schema in deploy/schema/');
  assert.ok(operator.length >= 1, 'no prometheus-operator schema in deploy/schema/');
  const listed = readdirSync(SCHEMA_DIR).filter((name) => name.endsWith('.json'));
  assert.equal(listed.length, kubernetes.length + operator.length, 'a schema file of neither family');
  const readme = readFileSync(join(SCHEMA_DIR, 'README.md'), 'utf8');
  for (const { file, schema } of kubernetes) {
    assert.match(schema.kubernetes ?? '', /^(v1\.\d+\.\d+|release-1\.\d+)$/, file);
    assert.match(schema.source, /^@kubernetes\/client-node@\d+\.\d+\.\d+$/, file);
  }
  for (const { file, schema } of operator) {
    // The operator release and the npm package version, in the file and in the README's table.
    assert.match(schema.operator ?? '', /^v0\.\d+\.\d+$/, file);
    assert.equal(file, `prometheus-operator-${schema.operator}.json`);
    assert.match(schema.source, /^@kubernetes-models\/prometheus-operator@\d+\.\d+\.\d+$/, file);
  }
  for (const { file, schema } of [...kubernetes, ...operator]) {
    assert.ok(readme.includes(`\`${file}\``) && readme.includes(schema.source), `deploy/schema/README.md does not list ${file} from ${schema.source}`);
    const walk = (node: Schema, where: string): void => {
      for (const [keyword, child] of Object.entries(node)) {
        assert.ok(SUPPORTED_KEYWORDS.has(keyword), `${file} ${where}: keyword ${keyword} is not implemented`);
        if (keyword === 'properties') for (const [n, s] of Object.entries(child as Record<string, Schema>)) walk(s, `${where}.${n}`);
        else if (keyword === 'items' || (keyword === 'additionalProperties' && typeof child === 'object')) walk(child as Schema, where);
        else if (keyword === 'oneOf') (child as Schema[]).forEach((s) => walk(s, where));
      }
    };
    for (const [name, definition] of Object.entries(schema.definitions)) walk(definition, name);
    for (const [kind, definition] of Object.entries(schema.kinds)) walk(definition, kind);
  }
});

test('the validator catches what kubeconform -strict catches', () => {
  const { schema } = schemaFiles().at(-1)!;
  const deployment = schema.kinds['apps/v1 Deployment']!;
  const base = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'x' } },
      template: {
        metadata: { labels: { app: 'x' } },
        spec: {
          containers: [
            {
              name: 'c',
              image: 'i:1',
              readinessProbe: { httpGet: { path: '/ready', port: 'health' } },
              livenessProbe: { httpGet: { path: '/health', port: 9011 } },
              resources: { limits: { memory: '64Mi' } },
              securityContext: { capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  };
  assert.deepEqual(validateSchema(base, deployment, schema), []);
  // biome-ignore lint/suspicious/noExplicitAny: each case reaches into an arbitrary path of the parsed manifest
  const broken = (mutate: (d: any) => void): string[] => {
    const copy = structuredClone(base);
    mutate(copy);
    return validateSchema(copy, deployment, schema);
  };
  assert.match(broken((d) => (d.spec.template.spec.containers[0].readinesProbe = {})).join('\n'), /unknown property "readinesProbe"/);
  assert.match(broken((d) => (d.spec.replicas = '2')).join('\n'), /\/spec\/replicas: expected integer/);
  assert.match(broken((d) => delete d.spec.template.spec.containers[0].name).join('\n'), /required property name/);
  assert.match(broken((d) => (d.spec.template.spec.containers[0].securityContext.capabilities.drop = 'ALL')).join('\n'), /expected array/);
  assert.match(broken((d) => (d.spec.template.spec.containers[0].livenessProbe.httpGet.port = true)).join('\n'), /oneOf/);
  assert.match(broken((d) => (d.kind = 'StatefulSet')).join('\n'), /is not one of \["Deployment"\]/);
  assert.match(broken((d) => delete d.spec.selector).join('\n'), /required property selector/);
});

test('the prometheus-operator schema catches what the API server refuses in a PrometheusRule and a PodMonitor', () => {
  const { schema } = schemaFiles('prometheus-operator').at(-1)!;
  const rule = schema.kinds['monitoring.coreos.com/v1 PrometheusRule']!;
  const base = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'x', labels: { a: 'b' } },
    spec: {
      groups: [
        {
          name: 'g',
          interval: '30s',
          rules: [
            { record: 'r', expr: 'up' },
            { alert: 'A', expr: 'up == 0', for: '5m', labels: { severity: 'page' } },
          ],
        },
      ],
    },
  };
  assert.deepEqual(validateSchema(base, rule, schema), []);
  // biome-ignore lint/suspicious/noExplicitAny: each case reaches into an arbitrary path of the parsed manifest
  const broken = (mutate: (d: any) => void): string => {
    const copy = structuredClone(base);
    mutate(copy);
    return validateSchema(copy, rule, schema).join('\n');
  };
  assert.match(
    broken((d) => (d.spec.groups[0].rules[0].exprr = 'up')),
    /unknown property "exprr"/,
  );
  assert.match(
    broken((d) => delete d.spec.groups[0].rules[0].expr),
    /required property expr/,
  );
  assert.match(
    broken((d) => delete d.spec.groups[0].name),
    /required property name/,
  );
  assert.match(
    broken((d) => (d.spec.groups[0].rules[1].labels = ['severity'])),
    /expected object/,
  );
  assert.match(
    broken((d) => (d.spec.groups[0].rules[0].expr = true)),
    /oneOf/,
  );
  assert.match(
    broken((d) => (d.spec.rules = [])),
    /unknown property "rules"/,
  );
  assert.match(
    broken((d) => (d.metadata.lables = {})),
    /unknown property "lables"/,
  );
  assert.match(
    broken((d) => (d.kind = 'PrometheusRules')),
    /is not one of \["PrometheusRule"\]/,
  );

  const monitor = schema.kinds['monitoring.coreos.com/v1 PodMonitor']!;
  const pm = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: { name: 'x' },
    spec: { selector: { matchLabels: { a: 'b' } }, podMetricsEndpoints: [{ port: 'health' }] },
  };
  assert.deepEqual(validateSchema(pm, monitor, schema), []);
  assert.match(validateSchema({ ...pm, spec: { ...pm.spec, podMetricEndpoints: [] } }, monitor, schema).join('\n'), /unknown property "podMetricEndpoints"/);
  assert.match(validateSchema({ ...pm, spec: { podMetricsEndpoints: [] } }, monitor, schema).join('\n'), /required property selector/);
  const badAction = { ...pm, spec: { ...pm.spec, podMetricsEndpoints: [{ port: 'health', relabelings: [{ action: 'rename' }] }] } };
  assert.match(validateSchema(badAction, monitor, schema).join('\n'), /"rename" is not one of/);
});

test('the manifests validate against every vendored schema of their family', (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  for (const family of ['kubernetes', 'prometheus-operator'] as const) {
    const own: readonly { readonly file: string; readonly manifest: Manifest }[] = manifests.all.filter(({ manifest }) => familyOf(manifest) === family);
    for (const { file: schemaFile, schema } of schemaFiles(family)) {
      for (const { file, manifest } of own) {
        const kind: Schema | undefined = schema.kinds[`${manifest.apiVersion} ${manifest.kind}`];
        assert.ok(kind !== undefined, `${file}: ${manifest.apiVersion} ${manifest.kind} is not in ${schemaFile}: add it to its generator's KINDS`);
        assert.deepEqual(validateSchema(manifest, kind, schema), [], `${file} against ${schemaFile} (${schema.kubernetes ?? schema.operator})`);
      }
      t.diagnostic(`${own.length} manifests valid against ${family} ${schema.kubernetes ?? schema.operator} (${schema.source})`);
    }
  }
  // Both custom resources are shipped, so both are checked.
  assert.deepEqual(
    manifests.all
      .map(({ manifest }) => manifest)
      .filter((m) => familyOf(m) === 'prometheus-operator')
      .map((m) => m.kind)
      .sort(),
    ['PodMonitor', 'PrometheusRule'],
  );
});

test('kubernetes: pod and containers run as 65532, read-only, without privileges, under RuntimeDefault seccomp', (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  const pod = manifests.deployment.spec.template.spec;
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.securityContext?.runAsNonRoot, true);
  assert.equal(pod.securityContext?.runAsUser, NONROOT_UID);
  assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
  for (const c of pod.containers) {
    const sc = c.securityContext;
    assert.ok(sc !== undefined, `${c.name}: securityContext`);
    assert.equal(sc.runAsNonRoot, true, `${c.name}: runAsNonRoot`);
    assert.equal(sc.runAsUser, NONROOT_UID, `${c.name}: runAsUser`);
    assert.equal(sc.readOnlyRootFilesystem, true, `${c.name}: readOnlyRootFilesystem`);
    assert.equal(sc.allowPrivilegeEscalation, false, `${c.name}: allowPrivilegeEscalation`);
    assert.notEqual(sc.privileged, true, `${c.name}: privileged`);
    assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${c.name}: capabilities.drop`);
    assert.equal(sc.capabilities?.add, undefined, `${c.name}: capabilities.add`);
    assert.equal(sc.seccompProfile?.type, 'RuntimeDefault', `${c.name}: seccompProfile`);
    assertPinned(c.image, c.name);
    // A registry host first (a dot or a port in the first segment): a short name is resolved by each runtime's
    // own defaults (docker.io, or refused by CRI-O's short-name mode).
    assert.match(c.image, /^[a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d+)?\//, `${c.name}: image ${c.image} names no registry`);
  }
  for (const image of manifests.kustomization.images ?? []) {
    assert.ok(
      pod.containers.some((c) => c.image.split(':')[0] === image.name),
      `kustomization image ${image.name} is unused`,
    );
    assert.ok(image.newTag !== undefined && image.newTag !== 'latest', `kustomization image ${image.name}: pin newTag`);
  }
});

test('kubernetes: the sidecar gates readiness on /ready and liveness on /health; nothing else probes it', (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  const probe = container(manifests.deployment, PROBE_CONTAINER);
  assert.equal(probe.readinessProbe?.httpGet?.path, '/ready');
  assert.equal(probePort(probe, probe.readinessProbe), PROBE_PORT);
  assert.equal(probe.livenessProbe?.httpGet?.path, '/health');
  assert.equal(probePort(probe, probe.livenessProbe), PROBE_PORT);
  for (const c of manifests.deployment.spec.template.spec.containers) {
    for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) {
      const p = c[kind];
      if (p === undefined) continue;
      // Liveness on /ready restarts consumers that a restart cannot fix (RUNBOOK_HOTKEY_SKEW.md).
      if (kind !== 'readinessProbe') assert.notEqual(p.httpGet?.path, '/ready', `${c.name}: ${kind} on /ready`);
      if (c.name !== PROBE_CONTAINER) {
        assert.notEqual(probePort(c, p), PROBE_PORT, `${c.name}: ${kind} points at the sidecar's port`);
      }
    }
  }
  const consumer = container(manifests.deployment, CONSUMER_CONTAINER);
  assert.ok(consumer.livenessProbe !== undefined, 'the consumer keeps its own liveness');
  const replicas = manifests.deployment.spec.replicas ?? 1;
  const minConsumers = Number(manifests.configMaps.get('crm-events-health')?.data?.MIN_CONSUMERS ?? VARIABLES.MIN_CONSUMERS.default);
  assert.ok(replicas > minConsumers, `replicas ${replicas} must exceed MIN_CONSUMERS ${minConsumers}, or one lost pod unreadies all`);
});

/** Measured resident memory of the probe, MiB (deployment.yaml's comment says where each comes from). */
const MEASURED_RSS_MIB = {
  /** The highest steady-state figure: `npm run soak`'s rerun, 93,188 KiB (BENCHMARKS.md). */
  steady: 93_188 / 1024,
  /** A 256 MiB body on GET on Node 24, the image's: ~70 MiB plus 78 MiB of growth (docs/IMAGE.md). */
  hostile: 70 + 78,
};

test('kubernetes: the probe requests the memory it was measured to use, and its limit covers the worst case', (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  const { resources } = container(manifests.deployment, PROBE_CONTAINER);
  const requestMemory = quantity(resources?.requests?.memory ?? '') / 2 ** 20;
  const limitMemory = quantity(resources?.limits?.memory ?? '') / 2 ** 20;
  assert.ok(requestMemory >= MEASURED_RSS_MIB.steady, `memory request ${requestMemory}Mi is below the measured ${MEASURED_RSS_MIB.steady.toFixed(1)} MiB`);
  assert.ok(limitMemory >= MEASURED_RSS_MIB.hostile, `memory limit ${limitMemory}Mi is below the measured worst case ${MEASURED_RSS_MIB.hostile} MiB`);
  assert.ok(limitMemory <= 256, `memory limit ${limitMemory}Mi: a sidecar that needs more than 256Mi has a leak`);
  assert.ok(requestMemory <= limitMemory);
  assert.ok(quantity(resources?.requests?.cpu ?? '') > 0);
  assert.ok(quantity(resources?.limits?.cpu ?? '') >= quantity(resources?.requests?.cpu ?? ''));
});

test('kubernetes: no Secret in the kustomization; the credentials volume is an optional Secret, mounted read-only', (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  // `kubectl apply -k` would overwrite the real Secret with a placeholder on every apply (kustomization.yaml).
  assert.deepEqual(manifests.byKind('Secret'), [], 'a Secret is shipped in the kustomization');
  assert.ok(!/^\s*secretGenerator:/m.test(readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8')), 'a secretGenerator');
  const probe = container(manifests.deployment, PROBE_CONTAINER);
  assert.ok(
    (probe.envFrom ?? []).every((source) => source.secretRef === undefined),
    'no secret as environment',
  );
  assert.ok(
    (probe.env ?? []).every((e) => e.valueFrom?.secretKeyRef === undefined),
    'no secret as environment',
  );
  const pod = manifests.deployment.spec.template.spec;
  const secretVolumes = (pod.volumes ?? []).filter((v) => v.secret !== undefined);
  assert.ok(secretVolumes.length > 0, 'no credentials volume');
  for (const volume of secretVolumes) {
    // A missing Secret volume keeps the whole Pod, consumer included, in ContainerCreating.
    assert.equal(volume.secret?.optional, true, `volume ${volume.name}: a Secret volume must be optional`);
    for (const c of pod.containers) {
      const mount = c.volumeMounts?.find((m) => m.name === volume.name);
      if (mount === undefined) continue;
      assert.equal(c.name, PROBE_CONTAINER, `${c.name} mounts the probe's credentials`);
      assert.equal(mount.readOnly, true);
    }
  }
});

test('kubernetes: the probe starts without credentials when none is configured, and refuses to when a configured token file is missing', (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  const probe = container(manifests.deployment, PROBE_CONTAINER);
  const configMapNames = (probe.envFrom ?? []).map((source) => source.configMapRef?.name);
  assert.equal(configMapNames.length, 1);
  const configMap = manifests.configMaps.get(configMapNames[0]!);
  assert.ok(configMap?.data !== undefined, `ConfigMap ${configMapNames[0]} is not in the kustomization`);
  assert.ok(configMap.data.PROMETHEUS_URL !== undefined);
  // The environment the container gets: its ConfigMap, then env (literal values and ConfigMap keys).
  const environment: Record<string, string> = { ...configMap.data };
  for (const e of probe.env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    if (e.value !== undefined) environment[e.name] = e.value;
    else if (ref !== undefined) {
      const value = manifests.configMaps.get(ref.name)?.data?.[ref.key];
      assert.ok(value !== undefined, `${e.name}: ConfigMap ${ref.name} has no key ${ref.key}`);
      environment[e.name] = value;
    }
  }
  // As shipped no credential is configured: the probe starts with or without the Secret.
  assert.equal(environment.PROMETHEUS_BEARER_TOKEN_FILE, undefined, 'a token file is configured by default, so the probe fails without the Secret');
  assert.doesNotThrow(() => loadConfig(environment), 'the shipped configuration');

  // configmap.yaml's commented line: the token file is in the mounted Secret volume, under the item it maps.
  const commented = /^\s*#\s*PROMETHEUS_BEARER_TOKEN_FILE:\s*"([^"]+)"\s*$/m.exec(readFileSync(join(K8S_DIR, 'configmap.yaml'), 'utf8'));
  assert.ok(commented !== null, 'configmap.yaml no longer shows how to set PROMETHEUS_BEARER_TOKEN_FILE');
  const tokenFile = commented[1]!;
  const mount = probe.volumeMounts?.find((m) => posix.dirname(tokenFile) === m.mountPath);
  assert.ok(mount !== undefined, `${tokenFile} is not in a mounted volume`);
  const volume = manifests.deployment.spec.template.spec.volumes?.find((v) => v.name === mount.name);
  assert.ok(volume?.secret !== undefined, `volume ${mount.name} is not a Secret`);
  assert.ok(
    volume.secret.items?.some((i) => i.path === posix.basename(tokenFile)),
    `no item of the Secret is mounted as ${posix.basename(tokenFile)}`,
  );
  // Configured, and the Secret missing (an optional volume is an empty directory): the probe refuses to start,
  // naming the variable (exit 2), and the sidecar's restarts show it.
  const dir = mkdtempSync(join(tmpdir(), 'k8s-secret-'));
  try {
    const missing = join(dir, posix.basename(tokenFile));
    assert.throws(() => loadConfig({ ...environment, PROMETHEUS_BEARER_TOKEN_FILE: missing }), /PROMETHEUS_BEARER_TOKEN_FILE=.*expected a readable file holding a token/);
    writeFileSync(missing, 'a-token\n');
    assert.doesNotThrow(() => loadConfig({ ...environment, PROMETHEUS_BEARER_TOKEN_FILE: missing }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("kubernetes: the consumer container reads nothing of the probe's, and the probe judges the consumer's group", (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  const consumer = container(manifests.deployment, CONSUMER_CONTAINER);
  const probe = container(manifests.deployment, PROBE_CONTAINER);
  const probeConfigMaps = new Set((probe.envFrom ?? []).map((source) => source.configMapRef?.name));
  const consumerRefs = [
    ...(consumer.envFrom ?? []).filter((source) => source.configMapRef?.optional !== true).map((source) => source.configMapRef?.name ?? source.secretRef?.name),
    ...(consumer.env ?? []).map((e) => e.valueFrom?.configMapKeyRef?.name ?? e.valueFrom?.secretKeyRef?.name).filter((name) => name !== undefined),
  ];
  for (const name of consumerRefs) assert.ok(!probeConfigMaps.has(name), `the consumer reads the probe's ConfigMap ${name}: a missing probe object blocks it`);
  const secretVolumes = new Set((manifests.deployment.spec.template.spec.volumes ?? []).filter((v) => v.secret !== undefined).map((v) => v.name));
  for (const mount of consumer.volumeMounts ?? []) assert.ok(!secretVolumes.has(mount.name), `the consumer mounts ${mount.name}`);

  // One source for the group: the consumer's ConfigMap, read whole by the consumer and by key by the probe.
  const group = probe.env?.find((e) => e.name === 'KAFKA_GROUP')?.valueFrom?.configMapKeyRef;
  assert.ok(group !== undefined, "the probe's KAFKA_GROUP is not taken from a ConfigMap");
  assert.equal(group.key, 'KAFKA_GROUP');
  assert.ok(
    (consumer.envFrom ?? []).some((source) => source.configMapRef?.name === group.name),
    `the consumer does not read ${group.name}, the ConfigMap its group comes from`,
  );
  assert.ok(manifests.configMaps.get(group.name)?.data?.KAFKA_GROUP, `${group.name} has no KAFKA_GROUP`);
  for (const name of probeConfigMaps) assert.equal(manifests.configMaps.get(name!)?.data?.KAFKA_GROUP, undefined, `${name} sets KAFKA_GROUP too: two sources`);
});

test('kubernetes: every environment variable is one the probe reads or belongs to the consumer', (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  for (const c of manifests.deployment.spec.template.spec.containers) {
    const names = [
      ...(c.env ?? []).map((e) => e.name),
      ...(c.envFrom ?? []).flatMap((source) => Object.keys(manifests.configMaps.get(source.configMapRef?.name ?? '')?.data ?? {})),
    ];
    for (const name of names) {
      if (c.name === PROBE_CONTAINER) assert.ok(PROBE_ENV_SET.has(name), `${c.name}: ${name} is not a variable the probe reads`);
      else assert.ok(OTHER_ENV[c.name]?.test(name), `${c.name}: ${name} is not one of ${c.name}'s variables`);
    }
  }
  // Every ConfigMap is read whole by some container, and holds only that container's variables.
  for (const configMap of manifests.configMaps.values()) {
    const readers: Container[] = manifests.deployment.spec.template.spec.containers.filter((c) =>
      (c.envFrom ?? []).some((source) => source.configMapRef?.name === configMap.metadata.name),
    );
    assert.equal(readers.length, 1, `ConfigMap ${configMap.metadata.name} is read through envFrom by ${readers.length} containers`);
    const reader = readers[0]!.name;
    for (const key of Object.keys(configMap.data ?? {})) {
      const own = reader === PROBE_CONTAINER ? PROBE_ENV_SET.has(key) : OTHER_ENV[reader]?.test(key);
      assert.ok(own, `ConfigMap ${configMap.metadata.name}: ${key} is not a variable ${reader} reads`);
    }
  }
});

test('kubernetes: a PodDisruptionBudget lets one pod go at a time, and never more than the group can spare', (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  const budgets = manifests.byKind('PodDisruptionBudget') as PodDisruptionBudget[];
  assert.equal(budgets.length, 1);
  const budget = budgets[0]!;
  assert.deepEqual(budget.spec.selector, manifests.deployment.spec.selector, "the budget selects the Deployment's pods");
  assert.equal(budget.spec.minAvailable, undefined, 'maxUnavailable, not minAvailable: a scale-down must not block drains');
  assert.equal(budget.spec.maxUnavailable, 1);
  // An unready pod still consumes: AlwaysAllow would let unready members go beyond the budget.
  assert.equal(budget.spec.unhealthyPodEvictionPolicy ?? 'IfHealthyBudget', 'IfHealthyBudget');
  const replicas = manifests.deployment.spec.replicas ?? 1;
  const probeConfig = manifests.configMaps.get('crm-events-health')?.data ?? {};
  const minConsumers = Number(probeConfig.MIN_CONSUMERS ?? VARIABLES.MIN_CONSUMERS.default);
  assert.ok(replicas - Number(budget.spec.maxUnavailable) >= minConsumers, 'evictions the budget allows leave fewer than MIN_CONSUMERS');
  // The fleet limit keeps replicas - FLEET_MAX_UNREADY Ready through a group-wide failure; that must meet the
  // budget's desiredHealthy, or no unready pod can be evicted either (IfHealthyBudget) and drains stop.
  const fleetMax = probeConfig.FLEET_MAX_UNREADY ?? VARIABLES.FLEET_MAX_UNREADY.default;
  assert.match(String(fleetMax), /^\d+$/, 'FLEET_MAX_UNREADY as a count, so the arithmetic here holds');
  assert.ok(replicas - Number(fleetMax) >= replicas - Number(budget.spec.maxUnavailable), 'held-ready pods fall short of the budget');
});

test('kubernetes: replicas spread over nodes (required) and zones (best effort), per ReplicaSet', (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  const constraints = manifests.deployment.spec.template.spec.topologySpreadConstraints ?? [];
  const byKey = new Map(constraints.map((c) => [c.topologyKey, c]));
  assert.equal(byKey.get('kubernetes.io/hostname')?.whenUnsatisfiable, 'DoNotSchedule');
  assert.equal(byKey.get('topology.kubernetes.io/zone')?.whenUnsatisfiable, 'ScheduleAnyway');
  for (const c of constraints) {
    assert.equal(c.maxSkew, 1, c.topologyKey);
    assert.deepEqual(c.labelSelector, manifests.deployment.spec.selector, `${c.topologyKey}: selects the Deployment's pods`);
    assert.deepEqual(c.matchLabelKeys, ['pod-template-hash'], `${c.topologyKey}: each ReplicaSet spreads on its own`);
    assert.equal(c.nodeTaintsPolicy, 'Honor', `${c.topologyKey}: nodes the pods cannot run on are not counted`);
  }
});

test("kubernetes: a PodMonitor scrapes every sidecar's port, keeping the pod and namespace labels the fleet limit reads", (t) => {
  const manifests = loadManifests(t);
  if (manifests === undefined) return;
  const monitors = manifests.byKind('PodMonitor') as PodMonitor[];
  assert.equal(monitors.length, 1);
  const monitor = monitors[0]!;
  const podLabels = manifests.deployment.spec.template.metadata.labels;
  for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels ?? {})) {
    assert.equal(podLabels[key], value, `the PodMonitor selects ${key}=${value}, which the pods do not carry`);
  }
  // Its own namespace (the default): the fleet query is scoped by POD_NAMESPACE.
  assert.equal(monitor.spec.namespaceSelector, undefined);
  const probe = container(manifests.deployment, PROBE_CONTAINER);
  const endpoints = monitor.spec.podMetricsEndpoints ?? [];
  assert.equal(endpoints.length, 1);
  const endpoint = endpoints[0]!;
  assert.equal(probe.ports?.find((p) => p.name === endpoint.port)?.containerPort, PROBE_PORT, "the endpoint is the probe's port, by name");
  assert.equal(endpoint.path ?? '/metrics', '/metrics');
  assert.notEqual(endpoint.filterRunning, false);
  // The operator adds `pod` and `namespace` (podmonitor.yaml's comment); nothing here may rename or drop them.
  const fleetLabel = VARIABLES.FLEET_LABEL.default;
  assert.equal(manifests.configMaps.get('crm-events-health')?.data?.FLEET_LABEL ?? fleetLabel, 'pod');
  for (const relabel of endpoint.relabelings ?? []) {
    assert.ok(relabel.targetLabel !== 'pod' && relabel.targetLabel !== 'namespace', 'a relabeling overwrites pod or namespace');
    assert.ok(!/label(drop|keep)/i.test(relabel.action ?? ''), 'a labeldrop/labelkeep could remove pod or namespace');
  }
  assert.ok(!(monitor.spec.podTargetLabels ?? []).some((l) => l === 'pod' || l === 'namespace'));
  // The probe knows itself by the names the scrape gives it.
  for (const name of ['POD_NAME', 'POD_NAMESPACE'])
    assert.ok(
      probe.env?.some((e) => e.name === name && e.valueFrom !== undefined),
      `${name} from the Downward API`,
    );
});
