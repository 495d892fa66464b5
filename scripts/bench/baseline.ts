// The physical limit the probe is measured against: a bare node:http server with default options that answers
// each path with bytes prepared at start, the status, headers and body the probe itself gave for that path (read
// once by scripts/bench.ts and passed in as a JSON file). No routing beyond one Map lookup, no per-request work.
// Node adds Date, Connection and Keep-Alive itself, as it does for the probe (both keep the default 5 s keep-alive),
// so the two put the same bytes on the wire; bench.ts checks that before it measures.
//
//   node --max-old-space-size=32 baseline.js <answers.json> <port>
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

/** One prepared answer, as bench.ts writes it. */
export interface BaselineAnswer {
  readonly statusCode: number;
  /** Header names and values as the probe sent them, without Date, Connection and Keep-Alive. */
  readonly headers: Readonly<Record<string, string>>;
  readonly bodyBase64: string;
}

const [file, portText] = process.argv.slice(2);
if (file === undefined || portText === undefined) {
  process.stderr.write('usage: baseline.js <answers.json> <port>\n');
  process.exit(2);
}
const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, BaselineAnswer>;
const answers = new Map(
  Object.entries(parsed).map(([path, answer]) => [path, { statusCode: answer.statusCode, headers: answer.headers, body: Buffer.from(answer.bodyBase64, 'base64') }]),
);

createServer((req, res) => {
  const answer = answers.get(req.url ?? '/');
  if (answer === undefined) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(answer.statusCode, answer.headers);
  res.end(answer.body);
}).listen(Number(portText), '127.0.0.1');
