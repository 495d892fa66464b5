// Trim the ICU data linked into an official (full-icu) Node binary to English, like Node's own small-icu build,
// in place: the locale bundles of every other language are dropped from ICU's common data package and the freed
// bytes are zeroed, so the file keeps its size and layout but compresses ~6 MB smaller (gzip).
//
// Usage: node trim-icu.mjs NODE_BINARY   (an unstripped binary: the data is found by its symbol, icudtNN_dat)
//
// Kept: everything that is not a locale bundle (normalization, properties, break rules, collation root data,
// converters, time zones, supplemental data...), the bundles of root and en, en_*, and the (10 kB of) segmentation
// bundles of every language.
// Dropped: <lang>[_<region>...].res for every other language, in every tree (names, currencies, units, zones,
// collation tailorings, number spellout), and the word-break dictionaries (brkitr/*.dict: Chinese/Japanese, Thai,
// Lao, Khmer, Burmese; Node's small-icu has none either). A non-English locale then falls back to English, and Intl says so
// (`supportedLocalesOf(['de'])` is empty, `resolvedOptions().locale` is en-US), as on a small-icu Node.
// Nothing in the probe uses Intl. Prints what it did.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: trim-icu.mjs NODE_BINARY\n');
  process.exit(2);
}
const fail = (message) => {
  process.stderr.write(`trim-icu: ${message}\n`);
  process.exit(1);
};

const fd = openSync(file, 'r+');
const read = (offset, length) => {
  const b = Buffer.alloc(length);
  readSync(fd, b, 0, length, offset);
  return b;
};

// --- ELF64 little-endian: find the symbol icudtNN_dat and its file offset --------------------------------------
const eh = read(0, 64);
if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) fail('not a 64-bit little-endian ELF file');
const shoff = Number(eh.readBigUInt64LE(0x28));
const shentsize = eh.readUInt16LE(0x3a);
const shnum = eh.readUInt16LE(0x3c);
const sections = [];
for (let i = 0; i < shnum; i++) {
  const s = read(shoff + i * shentsize, shentsize);
  sections.push({
    type: s.readUInt32LE(4),
    addr: Number(s.readBigUInt64LE(16)),
    offset: Number(s.readBigUInt64LE(24)),
    size: Number(s.readBigUInt64LE(32)),
    link: s.readUInt32LE(40),
    entsize: Number(s.readBigUInt64LE(56)),
  });
}
const symtab = sections.find((s) => s.type === 2); // SHT_SYMTAB
if (!symtab) fail('no symbol table: run this before strip');
const strtab = read(sections[symtab.link].offset, sections[symtab.link].size);
const symbols = read(symtab.offset, symtab.size);
let icu;
for (let o = 0; o < symbols.length; o += symtab.entsize) {
  const nameAt = symbols.readUInt32LE(o);
  const end = strtab.indexOf(0, nameAt);
  const name = strtab.toString('latin1', nameAt, end);
  if (/^icudt\d+_dat$/.test(name)) {
    const section = sections[symbols.readUInt16LE(o + 6)];
    const value = Number(symbols.readBigUInt64LE(o + 8));
    icu = { name, offset: value - section.addr + section.offset, size: Number(symbols.readBigUInt64LE(o + 16)) };
    break;
  }
}
if (!icu) fail('no icudtNN_dat symbol: this Node was not built with full ICU data linked in');

// --- ICU common data package ("CmnD"): header, table of contents, items -------------------------------------------
const data = read(icu.offset, icu.size);
const headerSize = data.readUInt16LE(0);
if (data[2] !== 0xda || data[3] !== 0x27 || data.toString('latin1', 12, 16) !== 'CmnD' || data[8] !== 0) {
  fail(`${icu.name} is not a little-endian ICU common data package`);
}
const toc = headerSize; // offsets in the TOC count from here
const count = data.readUInt32LE(toc);
const items = [];
for (let i = 0; i < count; i++) {
  const nameOffset = data.readUInt32LE(toc + 4 + i * 8);
  const name = data.toString('latin1', toc + nameOffset, data.indexOf(0, toc + nameOffset));
  items.push({ name, start: data.readUInt32LE(toc + 8 + i * 8) });
}
items.forEach((item, i) => (item.end = i + 1 < count ? items[i + 1].start : data.length - toc));
if (items.some((item, i) => item.end < item.start || (i > 0 && items[i - 1].name >= item.name))) fail('unexpected TOC');

const locale = /^[a-z]{2,3}(_[A-Za-z0-9]+)*\.res$/;
const keep = (name) => {
  const path = name.split('/');
  const base = path.pop();
  // Segmentation rules, yes (per language: 10 kB in all; Intl.Segmenter keeps working). The word dictionaries
  // (cjdict, thai, lao, khmer, burmese: 3.0 MB, 2.3 MB gzip), no, as Node's small-icu (tools/icu/icu_small.json,
  // "brkdict": "none"): words in those scripts then split per character, or per run of letters.
  if (path.includes('brkitr')) return !base.endsWith('.dict');
  if (base === 'res_index.res' || base === 'root.res') return true; // res_index lists the locales: V8 checks each
  return !locale.test(base) || /^en(_[A-Za-z0-9]+)*\.res$/.test(base);
};
const kept = items.filter((item) => keep(item.name));

// --- the trimmed package, written over the old one; the rest of the symbol becomes zeros ---------------------------
const align = (n) => (n + 15) & ~15;
const namesAt = 4 + kept.length * 8;
const namesSize = kept.reduce((n, item) => n + Buffer.byteLength(item.name, 'latin1') + 1, 0);
let itemAt = align(headerSize + namesAt + namesSize) - headerSize; // item data 16-byte aligned, as pkgdata does
const out = Buffer.alloc(data.length); // zeros
data.copy(out, 0, 0, headerSize);
out.writeUInt32LE(kept.length, toc);
let nameAt = namesAt;
kept.forEach((item, i) => {
  out.writeUInt32LE(nameAt, toc + 4 + i * 8);
  out.writeUInt32LE(itemAt, toc + 8 + i * 8);
  nameAt += out.write(`${item.name}\0`, toc + nameAt, 'latin1');
  data.copy(out, toc + itemAt, toc + item.start, toc + item.end);
  itemAt = align(headerSize + itemAt + item.end - item.start) - headerSize;
});
if (headerSize + itemAt > data.length) fail('the trimmed package does not fit (cannot happen)');
writeSync(fd, out, 0, out.length, icu.offset);
if (fstatSync(fd).size < icu.offset + out.length) fail('file too short');
closeSync(fd);

const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
process.stdout.write(
  `trim-icu: ${icu.name}: kept ${kept.length} of ${count} items (${mb(headerSize + itemAt)} of ${mb(data.length)}); ` +
    `dropped the locale bundles of every language but English and the word-break dictionaries\n`,
);
