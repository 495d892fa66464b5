// /status as application/health+json (draft-inadarei-api-health-check-06), for clients that ask with Accept.
// The seed's JSON stays the default. Pure, rendered once per change like every other answer.
import { jsonNumber } from './json.js';
import { assessReadiness, type ProbeView, type ReadinessReport } from './readiness.js';
import type { Rendered } from './render.js';
import type { JudgedCheck } from './verdict.js';

export const HEALTH_JSON_TYPE = 'application/health+json';

type Status = 'pass' | 'warn' | 'fail';

// Media types are case-insensitive (RFC 9110 8.3.1): the quick test must not refuse "Application/Health+JSON".
const MENTIONS_HEALTH_JSON = /application\/health\+json/i;

/** Whether an Accept header asks for application/health+json (and does not refuse it with q=0). */
export function acceptsHealthJson(accept: string | undefined): boolean {
  if (accept === undefined || !MENTIONS_HEALTH_JSON.test(accept)) return false;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    return type === HEALTH_JSON_TYPE && !params.some((param) => /^q=0(\.0*)?$/.test(param));
  });
}

/**
 * pass: healthy and every check known to pass. warn: /ready passes, but something is unverified, stale, pending
 * or draining. fail: /ready fails (or would, under DRY_RUN), answered with 503 as the draft asks of "fail".
 */
export function renderHealthJson(view: ProbeView, report: ReadinessReport = assessReadiness(view)): Rendered {
  const ready = report.overall;
  const checks = view.snapshot?.verdict.checks ?? [];
  const status: Status = !ready.healthy ? 'fail' : checks.some((check) => checkStatus(check) !== 'pass') ? 'warn' : 'pass';
  const document = {
    status,
    version: '1',
    releaseId: view.version,
    serviceId: 'crm-events-health-probe',
    description: `Kafka consumer group health: ${view.config.groups.join(', ')}`,
    ...(status === 'pass' ? {} : { output: ready.message }),
    checks: Object.fromEntries(
      view.checks.map((check) => {
        const judged = checks.find((candidate) => candidate.record.check.id === check.id);
        const observation = judged?.record.observation ?? null;
        const entry = {
          componentId: check.group,
          componentType: 'kafka-consumer-group',
          // As /metrics: no value for an unknown check, rather than one older than STALE_AFTER.
          observedValue: observation === null || observation.value === null || judged?.state === 'unknown' ? null : jsonNumber(observation.value),
          observedUnit: check.unit === '' ? undefined : check.unit,
          status: judged === undefined ? 'fail' : checkStatus(judged),
          time: judged?.record.observedAtMs == null ? undefined : new Date(judged.record.observedAtMs).toISOString(),
          output: judged === undefined ? 'not evaluated yet' : (judged.reason ?? undefined),
        };
        // component:measurement, as the draft keys checks.
        return [`${check.group}:${check.name}`, [entry]];
      }),
    ),
    links: { about: '/status' },
  };
  return { statusCode: status === 'fail' ? 503 : 200, body: JSON.stringify(document) };
}

function checkStatus(check: JudgedCheck): Status {
  if (!check.ok) return 'fail';
  return check.state === 'pass' && !check.stale ? 'pass' : check.state === 'no_data' && !check.stale ? 'pass' : 'warn';
}
