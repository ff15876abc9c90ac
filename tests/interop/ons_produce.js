'use strict';
// Scenario (a), producer side: ali-ons sends COUNT messages to TOPIC.
// Message i: body "ons-<i>-<random>" (every 5th padded past 4 KiB, which
// ali-ons zlib-compresses), tag "red" for even i and "blue" for odd i, keys
// ["key-<i>", "k2-<i>"]. Prints one JSON line per sent message:
// {body, tags, keys, msgId, queueId, queueOffset}. Exit 0 only if every send
// returned SEND_OK.
//   node ons_produce.js NAMESRV TOPIC COUNT
const { Producer, Message } = require('ali-ons');
const { clientOptions, args } = require('./common');

const a = args([ 'namesrv', 'topic', 'count' ]);

(async () => {
  const producer = new Producer(clientOptions(a.namesrv, { producerGroup: 'ons-interop-producer' }));
  producer.on('error', err => process.stderr.write(`producer error: ${err.stack}\n`));
  await producer.ready();
  const salt = Math.random().toString(36).slice(2, 8);
  let failed = 0;
  for (let i = 0; i < Number(a.count); i++) {
    const tags = i % 2 === 0 ? 'red' : 'blue';
    const body = `ons-${i}-${salt}` + (i % 5 === 4 ? '-' + 'z'.repeat(5000) : '');
    const msg = new Message(a.topic, tags, body);
    msg.keys = [ `key-${i}`, `k2-${i}` ];
    const r = await producer.send(msg);
    if (r.sendStatus !== 'SEND_OK') {
      failed++;
      process.stderr.write(`send ${i}: ${JSON.stringify(r)}\n`);
      continue;
    }
    process.stdout.write(JSON.stringify({
      body, tags, keys: `key-${i} k2-${i}`, msgId: r.msgId,
      queueId: Number(r.messageQueue.queueId), queueOffset: r.queueOffset,
    }) + '\n');
  }
  await Promise.race([ producer.close(), new Promise(r => setTimeout(r, 3000)) ]);
  process.exit(failed ? 1 : 0);
})().catch(err => {
  process.stderr.write(`ons_produce: ${err.stack}\n`);
  process.exit(1);
});
