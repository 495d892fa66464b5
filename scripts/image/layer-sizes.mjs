// Sizes of an image's layers, for scripts/build-image.sh.
// Usage: node layer-sizes.mjs DIR_LAYOUT [NAME=OCI_LAYOUT ...]
//   DIR_LAYOUT   the image pushed with `buildah push --disable-compression IMAGE dir:DIR` (uncompressed layer tars)
//   NAME=LAYOUT  the same image pushed into an OCI layout by buildah with some compression: its layer blobs are
//                exactly what a registry would store from that push (containers/image: pgzip for gzip,
//                klauspost/compress for zstd, the encoder BuildKit's zstd uses too)
// Each uncompressed layer is also compressed here with the reference command-line tools (GNU gzip, zstd), the
// bytes a push with those tools would store. Prints one table; sizes in MB (10^6 bytes).

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [dirLayout, ...pushed] = process.argv.slice(2);
if (!dirLayout) {
  process.stderr.write('usage: layer-sizes.mjs DIR_LAYOUT [NAME=OCI_LAYOUT ...]\n');
  process.exit(2);
}

const digestFile = (dir, digest) => join(dir, digest.replace(/^sha256:/, ''));
const dirManifest = JSON.parse(readFileSync(join(dirLayout, 'manifest.json'), 'utf8'));
const plain = dirManifest.layers.map((l) => digestFile(dirLayout, l.digest));
const config = JSON.parse(readFileSync(digestFile(dirLayout, dirManifest.config.digest), 'utf8'));
const createdBy = (config.history ?? []).filter((h) => !h.empty_layer).map((h) => (h.created_by ?? '').replace(/\s+/g, ' '));

function ociLayers(dir) {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const blob = (digest) => join(dir, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
  return manifest.layers.map((l) => l.size);
}

function compressedSize(file, command, args) {
  const fd = openSync(file, 'r');
  try {
    const r = spawnSync(command, args, { stdio: [fd, 'pipe', 'inherit'], maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed`);
    return r.stdout.length;
  } finally {
    closeSync(fd);
  }
}

const columns = [['uncompressed', plain.map((f) => statSync(f).size)]];
for (const spec of pushed) {
  const [name, dir] = spec.split('=');
  columns.push([`buildah ${name}`, ociLayers(dir)]);
}
const tools = [
  ['gzip -6', 'gzip', ['-6', '-n', '-c']],
  ['gzip -9', 'gzip', ['-9', '-n', '-c']],
  ['zstd -3', 'zstd', ['-3', '-q', '-c']],
  ['zstd -19', 'zstd', ['-19', '-q', '-c']],
];
for (const [name, command, args] of tools) columns.push([name, plain.map((f) => compressedSize(f, command, args))]);

const width = Math.max(...columns.map(([name]) => name.length)) + 1;
const mb = (n) => (n / 1e6).toFixed(2);
const sum = (sizes) => sizes.reduce((a, b) => a + b, 0);
const lines = [];
lines.push(`${'layer'.padEnd(7)}${columns.map(([name]) => name.padStart(width)).join('')}   created by`);
plain.forEach((_, i) => {
  lines.push(`${String(i).padEnd(7)}${columns.map(([, sizes]) => mb(sizes[i]).padStart(width)).join('')}   ${(createdBy[i] ?? '').slice(0, 70)}`);
});
lines.push(`${'total'.padEnd(7)}${columns.map(([, sizes]) => mb(sum(sizes)).padStart(width)).join('')}   (MB)`);
lines.push(`${'MiB'.padEnd(7)}${columns.map(([, sizes]) => (sum(sizes) / 1048576).toFixed(2).padStart(width)).join('')}`);
process.stdout.write(`${lines.join('\n')}\n`);
