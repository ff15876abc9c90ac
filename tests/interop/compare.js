'use strict';
// Compare two files of JSON lines on (body, tags, keys): exit 0 if they hold
// the same multiset, else print the differences and exit 1. Optionally check
// that msgIds match too (when both sides know the producer's UNIQ_KEY).
//   node compare.js EXPECTED GOT [--msgid]
const fs = require('fs');

const [ expFile, gotFile, flag ] = process.argv.slice(2);
const withId = flag === '--msgid';

function load(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l));
}
function key(o) {
  return JSON.stringify([ o.body, o.tags || '', o.keys || '' ].concat(withId ? [ o.msgId ] : []));
}

const exp = load(expFile).map(key).sort();
const got = load(gotFile).map(key).sort();
const count = list => list.reduce((m, k) => m.set(k, (m.get(k) || 0) + 1), new Map());
const ce = count(exp);
const cg = count(got);
const missing = [];
const extra = [];
for (const [ k, v ] of ce) if ((cg.get(k) || 0) < v) missing.push(k);
for (const [ k, v ] of cg) if ((ce.get(k) || 0) < v) extra.push(k);
if (missing.length || extra.length) {
  process.stderr.write(`compare: expected ${exp.length}, got ${got.length}; ${missing.length} missing, ${extra.length} unexpected\n`);
  missing.slice(0, 5).forEach(k => process.stderr.write(`  missing    ${k}\n`));
  extra.slice(0, 5).forEach(k => process.stderr.write(`  unexpected ${k}\n`));
  process.exit(1);
}
process.stdout.write(`compare: ${exp.length} messages match${withId ? ' (with msgIds)' : ''}\n`);
