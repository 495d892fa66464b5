// A secured Prometheus: the real one started with --web.config.file (TLS with a CA made here by openssl,
// client certificates required, basic_auth_users), and the compiled probe asking it with right and wrong
// credentials. Secrets must never appear in anything the probe prints or serves.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startFakePrometheus, vectorAnswer } from '../helpers/fake-prometheus.js';
import { httpRequest } from '../helpers/http.js';
import { type Probe, startProbe } from '../helpers/process.js';
import { requireBinary, startExporter, startPrometheus } from '../helpers/real-prometheus.js';
import { freePort, waitFor } from '../helpers/wait.js';

const RULES = fileURLToPath(new URL('../../monitoring/prometheus-crm-events-rules.yml', import.meta.url));
const PASSWORD = 'probe-secret-pw';
// bcrypt of PASSWORD at cost 4 (the lowest Prometheus accepts, so the test stays fast); made with
// python3 -c "import crypt; print(crypt.crypt('probe-secret-pw', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))"
const PASSWORD_BCRYPT = '$2b$04$jhGZiBlA.tDn62u9qT7f3Ox4Boa0JDMBwEbmsfs.jLNje97bceFe.';
const FAST = { CHECK_INTERVAL: '300ms', QUERY_TIMEOUT: '250ms', STALE_AFTER: '1s', HOST: '127.0.0.1' };

/** A throwaway PKI: a CA, a server certificate for 127.0.0.1, a client certificate, and an unrelated CA. */
function makePki(t: TestContext): Record<'dir' | 'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'otherCa', string> {
  const dir = mkdtempSync(join(tmpdir(), 'probe-pki-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]): void => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(result.status, 0, `openssl ${args.join(' ')}\n${result.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=probe test CA');
  openssl('req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.crt', '-days', '2', '-subj', '/CN=unrelated CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ext] of [
    ['server', 'server.ext'],
    ['client', 'client.ext'],
  ] as const) {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', ext);
  }
  const path = (name: string): string => join(dir, name);
  return {
    dir,
    ca: path('ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
    otherCa: path('other.crt'),
  };
}

interface Status {
  healthy: boolean;
  prometheus: { last_error: { code: string; message: string } | null; reachable: boolean | null };
  evaluation: { count: number };
}

async function statusOf(port: number): Promise<Status> {
  return JSON.parse((await httpRequest(port, '/status')).body) as Status;
}

/** Everything a probe showed: its logs, and what every endpoint serves. */
async function everythingShown(probe: Probe, port: number): Promise<string> {
  const bodies = await Promise.all(['/ready', '/health', '/status', '/metrics', '/nope'].map((path) => httpRequest(port, path)));
  return [probe.stdout(), probe.stderr(), ...bodies.map((b) => `${JSON.stringify(b.headers)}${b.body}`)].join('\n');
}

/** The real Prometheus behind TLS (client certificates required) and basic auth, and the settings that reach it. */
async function securedPrometheus(t: TestContext) {
  const pki = makePki(t);
  const passwordFile = join(pki.dir, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`);
  const wrongPasswordFile = join(pki.dir, 'wrong-password');
  writeFileSync(wrongPasswordFile, 'not-the-password\n');
  const webConfig = join(pki.dir, 'web.yml');
  // JSON is YAML.
  writeFileSync(
    webConfig,
    JSON.stringify({
      tls_server_config: { cert_file: pki.serverCert, key_file: pki.serverKey, client_auth_type: 'RequireAndVerifyClientCert', client_ca_file: pki.ca },
      basic_auth_users: { probe: PASSWORD_BCRYPT },
    }),
  );
  const exporter = await startExporter();
  t.after(() => exporter.close());
  exporter.setMembers('crm-events-sse', 3);
  const prometheus = await startPrometheus({ scrapeTargets: [exporter.target], ruleFiles: [RULES], webConfigFile: webConfig });
  t.after(() => prometheus.close());
  const secure = {
    PROMETHEUS_URL: `https://127.0.0.1:${prometheus.port}`,
    PROMETHEUS_CA_FILE: pki.ca,
    PROMETHEUS_CERT_FILE: pki.clientCert,
    PROMETHEUS_KEY_FILE: pki.clientKey,
    PROMETHEUS_USERNAME: 'probe',
    PROMETHEUS_PASSWORD_FILE: passwordFile,
    PROMETHEUS_HEADERS: 'X-Scope-OrgID=tenant-secret-id',
  };
  return { pki, prometheus, secure, wrongPasswordFile };
}

test('TLS with a private CA, client certificates and basic auth, against the real Prometheus', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const { pki, prometheus, secure, wrongPasswordFile } = await securedPrometheus(t);
  const cases: { name: string; env: Record<string, string>; expect: string | null }[] = [
    { name: 'right credentials', env: secure, expect: null },
    { name: 'wrong password', env: { ...secure, PROMETHEUS_PASSWORD_FILE: wrongPasswordFile }, expect: 'PROM_AUTH' },
    {
      name: 'password in the URL',
      env: { ...secure, PROMETHEUS_USERNAME: '', PROMETHEUS_PASSWORD_FILE: '', PROMETHEUS_URL: `https://probe:${PASSWORD}@127.0.0.1:${prometheus.port}` },
      expect: null,
    },
    { name: 'wrong CA', env: { ...secure, PROMETHEUS_CA_FILE: pki.otherCa }, expect: 'PROM_TLS' },
    { name: 'system CAs only', env: { ...secure, PROMETHEUS_CA_FILE: '' }, expect: 'PROM_TLS' },
    // TLS 1.3 refuses a missing client certificate after the handshake: Node only sees the socket close.
    { name: 'no client certificate', env: { ...secure, PROMETHEUS_CERT_FILE: '', PROMETHEUS_KEY_FILE: '' }, expect: 'PROM_NETWORK' },
    { name: 'wrong CA, verification skipped', env: { ...secure, PROMETHEUS_CA_FILE: pki.otherCa, PROMETHEUS_TLS_INSECURE_SKIP_VERIFY: 'true' }, expect: null },
  ];

  await Promise.all(
    cases.map(async ({ name, env, expect }) => {
      const port = await freePort();
      const probe = startProbe([], { ...FAST, PORT: String(port), ...env });
      t.after(() => probe.kill());
      await probe.waitForLog('verdict_changed', 15_000);
      const status = await waitFor(
        `${name}: Prometheus reached (or refused with ${expect})`,
        async (seen) => {
          const current = await statusOf(port);
          seen(current.prometheus);
          if (expect === null) return current.prometheus.reachable === true ? current : undefined;
          return current.prometheus.last_error?.code === expect ? current : undefined;
        },
        { timeoutMs: 15_000 },
      );
      if (expect === null) {
        // The exporter reports 3 members and no lag: healthy once the rules have recorded them.
        await waitFor(`${name}: /ready 200`, async () => ((await httpRequest(port, '/ready')).status === 200 ? true : undefined), { timeoutMs: 20_000 });
      } else {
        assert.equal(status.prometheus.reachable, false, name);
      }
      if (expect === 'PROM_NETWORK') assert.match(status.prometheus.last_error!.message, /client certificate/);
      if (env.PROMETHEUS_TLS_INSECURE_SKIP_VERIFY === 'true') {
        assert.ok(
          probe.logs().some((line) => line.event === 'tls_verification_disabled'),
          'skipping verification is logged loudly',
        );
      }
      const shown = await everythingShown(probe, port);
      for (const secret of [PASSWORD, 'tenant-secret-id', Buffer.from(`probe:${PASSWORD}`).toString('base64')]) {
        assert.ok(!shown.includes(secret), `${name}: ${secret} leaked`);
      }
      probe.child.kill('SIGTERM');
      assert.equal(await probe.exited, 0);
    }),
  );
});

test('SIGHUP re-reads the TLS files: a replaced CA is trusted; a CA file that does not parse changes nothing', async (t) => {
  if (requireBinary(t, 'prometheus') === undefined) return;
  const { pki, secure } = await securedPrometheus(t);
  const caFile = join(pki.dir, 'rotating-ca.crt');
  copyFileSync(pki.otherCa, caFile);
  const port = await freePort();
  const probe = startProbe([], { ...FAST, ...secure, PROMETHEUS_CA_FILE: caFile, PORT: String(port) });
  t.after(() => probe.kill());
  const tlsError = async (seen: (value: unknown) => void) => {
    const status = await statusOf(port);
    seen(status.prometheus);
    return status.prometheus.last_error?.code === 'PROM_TLS' && status.prometheus.reachable === false ? true : undefined;
  };
  await waitFor('the wrong CA refused', tlsError, { timeoutMs: 15_000 });

  // The CA that signed Prometheus' certificate arrives (a cert-manager rotation, say); the probe is told.
  copyFileSync(pki.ca, caFile);
  probe.child.kill('SIGHUP');
  await probe.waitForLog('reloaded');
  await waitFor(
    'Prometheus reached after the reload',
    async (seen) => {
      const status = await statusOf(port);
      seen(status.prometheus);
      return status.prometheus.reachable === true ? true : undefined;
    },
    { timeoutMs: 15_000 },
  );

  // Half-written PEM: refused, the working client stays.
  writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
  probe.child.kill('SIGHUP');
  const failed = await probe.waitForLog('reload_failed');
  assert.match(String(failed.error), /PROMETHEUS_CA_FILE/);
  const status = JSON.parse((await httpRequest(port, '/status')).body) as Status & { reload: { ok: boolean } };
  assert.equal(status.reload.ok, false);
  // Three evaluations after the refused reload, each asking Prometheus: with the broken CA any of them would fail.
  const later = await waitFor(
    'three evaluations after the failed reload',
    async (seen) => {
      const current = await statusOf(port);
      seen(current);
      return current.evaluation.count >= status.evaluation.count + 3 ? current : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  assert.equal(later.prometheus.reachable, true, 'still asking with the old, working TLS settings');
  assert.equal(probe.child.exitCode, null);
});

test('a key that does not match its certificate, or a CA that does not parse, stops start-up with exit 2', async (t) => {
  const pki = makePki(t);
  const probe = startProbe([], {
    PROMETHEUS_URL: 'https://127.0.0.1:9',
    PORT: String(await freePort()),
    PROMETHEUS_CERT_FILE: pki.clientCert,
    PROMETHEUS_KEY_FILE: pki.serverKey,
  });
  assert.equal(await probe.exited, 2);
  assert.match(probe.stderr(), /^invalid configuration: PROMETHEUS_KEY_FILE=/m);
  assert.equal(probe.logs().filter((line) => line.event === 'listening').length, 0);

  // Node's TLS would skip a CA certificate that does not parse without a word, and every handshake would fail.
  const mangled = join(pki.dir, 'mangled-ca.crt');
  writeFileSync(mangled, `${readFileSync(pki.ca, 'utf8')}-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n`);
  const badCa = startProbe([], { PROMETHEUS_URL: 'https://127.0.0.1:9', PORT: String(await freePort()), PROMETHEUS_CA_FILE: mangled });
  assert.equal(await badCa.exited, 2);
  assert.match(badCa.stderr(), /^invalid configuration: PROMETHEUS_CA_FILE=".*mangled-ca\.crt": expected PEM CA certificates that parse \(certificate 2 of 2: /m);
});

test('a bearer token file is read again for every query, so a rotated token keeps working', async (t) => {
  const seen: string[] = [];
  const prometheus = await startFakePrometheus((query, req, res, body) => {
    seen.push(req.headers.authorization ?? '');
    vectorAnswer(() => '3')(query, req, res, body);
  });
  t.after(() => prometheus.close());
  const dir = mkdtempSync(join(tmpdir(), 'probe-token-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'first-token-value\n');
  const port = await freePort();
  const probe = startProbe([], { ...FAST, PORT: String(port), PROMETHEUS_URL: prometheus.url, PROMETHEUS_BEARER_TOKEN_FILE: tokenFile });
  t.after(() => probe.kill());
  await waitFor('the first token', async () => (seen.includes('Bearer first-token-value') ? true : undefined));
  writeFileSync(tokenFile, 'rotated-token-value\n');
  await waitFor('the rotated token', async () => (seen.at(-1) === 'Bearer rotated-token-value' ? true : undefined));

  // A token file that disappears is an auth error in /status, not a crash, and names the file, not the token.
  rmSync(tokenFile);
  const status = await waitFor('PROM_AUTH', async () => {
    const current = await statusOf(port);
    return current.prometheus.last_error?.code === 'PROM_AUTH' ? current : undefined;
  });
  assert.match(status.prometheus.last_error!.message, /cannot read the bearer token file .*token \(ENOENT\)/);
  const shown = await everythingShown(probe, port);
  assert.ok(!shown.includes('first-token-value') && !shown.includes('rotated-token-value'), 'a token leaked');
});
