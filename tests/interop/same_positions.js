'use strict';
// Every message in GOT sits at the queue and offset the producer was told in
// SENT (both JSON lines with body, queueId, queueOffset); matched by body.
//   node same_positions.js SENT GOT
const fs = require('fs');

const read = f => fs.readFileSync(f, 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l));
const [ sentFile, gotFile ] = process.argv.slice(2);
const sent = new Map(read(sentFile).map(o => [ o.body, `${o.queueId}/${o.queueOffset}` ]));
const got = read(gotFile);
const bad = got.filter(o => sent.get(o.body) !== `${o.queueId}/${o.queueOffset}`);
if (bad.length || got.length === 0) {
  process.stderr.write(`same_positions: ${bad.length} of ${got.length} differ, e.g. ${JSON.stringify(bad[0])} (sent at ${bad[0] && sent.get(bad[0].body)})\n`);
  process.exit(1);
}
process.stdout.write(`same_positions: ${got.length} messages at the positions the producer saw\n`);
