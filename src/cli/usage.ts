// The text of --help: commands, then every variable with its default, from the spec (never copied by hand).
import { VARIABLES } from '../config/load.js';
import { VERSION } from '../version.js';

export const USAGE = `crm-events-health-probe ${VERSION}
Readiness probe for a Kafka consumer group, judged from Prometheus.

Usage:
  node dist/main.js                 serve /ready, /health, /status and /metrics
  node dist/main.js healthcheck     exit 0 if the local server's /health answers 200 within 2 s, else 1
                    [PATH]          (another path of the local server, e.g. /ready)
  node dist/main.js check [--json]  evaluate every check once against Prometheus and exit: 0 healthy,
                                    1 unhealthy, 3 Prometheus could not be asked, 2 bad configuration;
                                    prints the /ready message, or the /status document with --json
  node dist/main.js reload [PID]    send SIGHUP to the probe (PID 1 unless given): re-read CHECKS_FILE and TLS files
  node dist/main.js --help | --version

Environment (default):
${Object.entries(VARIABLES)
  .map(([name, v]) => `  ${name.padEnd(20)} ${v.help} (${v.default})`)
  .join('\n')}
`;
