'use strict';
// Scenario (b), consumer side: an ali-ons push consumer in GROUP subscribes
// to TOPIC with EXPR (e.g. "alpha"), from the first offset, and prints one
// JSON line per message: {body, tags, keys, msgId, queueId, queueOffset}.
// It stops GRACE_MS after the EXPECT-th message (so extra deliveries are
// seen) or after TIMEOUT_MS, closes the consumer (committing offsets) and
// exits 0 (the caller compares what it printed). With ONS_BROADCAST=1 in the
// environment the consumer runs in broadcasting mode (isBroadcast).
//   node ons_consume.js NAMESRV TOPIC GROUP EXPR EXPECT TIMEOUT_MS [GRACE_MS]
const { Consumer } = require('ali-ons');
const { clientOptions, args, sleep } = require('./common');

const a = args([ 'namesrv', 'topic', 'group', 'expr', 'expect', 'timeout' ]);
const grace = Number(process.argv[8] || 2000);

(async () => {
  const consumer = new Consumer(clientOptions(a.namesrv, {
    consumerGroup: a.group,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    pullBatchSize: 32,
    // Shorter than ali-ons' 30 s response timeout, so a held pull does not
    // outlive the test.
    brokerSuspendMaxTimeMillis: 2000,
    isBroadcast: process.env.ONS_BROADCAST === '1',
  }));
  const errors = [];
  consumer.on('error', err => {
    errors.push(err);
    process.stderr.write(`consumer error: ${err.message}\n`);
  });
  let n = 0;
  let doneAt = 0;
  consumer.subscribe(a.topic, a.expr, async msg => {
    n++;
    process.stdout.write(JSON.stringify({
      body: msg.body ? msg.body.toString() : '', tags: msg.tags || '', keys: msg.keys || '',
      msgId: msg.msgId, queueId: msg.queueId, queueOffset: msg.queueOffset,
    }) + '\n');
    if (n >= Number(a.expect) && !doneAt) doneAt = Date.now();
  });
  await consumer.ready();
  const deadline = Date.now() + Number(a.timeout);
  while (Date.now() < deadline && !(doneAt && Date.now() - doneAt >= grace)) {
    await sleep(100);
  }
  process.stderr.write(`ons_consume: received ${n} (expected ${a.expect}); ${errors.length} error event(s)\n`);
  await Promise.race([ consumer.close(), sleep(5000) ]);
  process.exit(0);
})().catch(err => {
  process.stderr.write(`ons_consume: ${err.stack}\n`);
  process.exit(1);
});
