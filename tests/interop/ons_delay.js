'use strict';
// Delays and retries with ali-ons (broker/DELAY.md), against a broker run with
// messageDelayLevel "1s 2s 3s":
//   level2  : delayTimeLevel 2 (2 s)
//   ons     : setStartDeliverTime(now + 2500) (__STARTDELIVERTIME)
//   retry   : the handler fails twice, then consumes it: ali-ons
//             sends it back (CONSUMER_SEND_MSG_BACK) and gets it again from
//             %RETRY%<group> with reconsumeTimes 1, then 2
//   dead    : always fails; with maxReconsumeTimes 2 the broker puts the
//             third send-back into %DLQ%<group>
// Prints one JSON line per delivery: {body, at, sentAt, reconsumeTimes}, and
// exits once every expected delivery was seen (or after TIMEOUT_MS).
//   node ons_delay.js NAMESRV TOPIC GROUP TIMEOUT_MS
const { Producer, Consumer, Message } = require('ali-ons');
const { clientOptions, args, sleep } = require('./common');

const a = args([ 'namesrv', 'topic', 'group', 'timeout' ]);
const want = { level2: 1, ons: 1, retry: 3, dead: 3 };

(async () => {
  const consumer = new Consumer(clientOptions(a.namesrv, {
    consumerGroup: a.group, maxReconsumeTimes: 2, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    // %RETRY%<group> is created by the broker at the first heartbeat, after
    // ali-ons first asked for its route: poll routes every second (option name
    // as ali-ons spells it).
    pollNameServerInteval: 1000,
  }));
  consumer.on('error', err => { if (!/retry later/.test(err.message)) process.stderr.write(`consumer error: ${err.message}\n`); });
  const seen = {};
  const sentAt = {};
  let done;
  const finished = new Promise(r => { done = r; });
  consumer.subscribe(a.topic, '*', async msg => {
    const body = msg.body.toString();
    seen[body] = (seen[body] || 0) + 1;
    process.stdout.write(JSON.stringify({ body, at: Date.now(), sentAt: sentAt[body], reconsumeTimes: msg.reconsumeTimes }) + '\n');
    if (Object.keys(want).every(k => (seen[k] || 0) >= want[k])) done();
    // Throw rather than return ACTION_RETRY: ali-ons's wrapper for messages of
    // %RETRY%<group> drops the handler's return value, but a throw reaches
    // its retry path (sendMessageBack) for both.
    if (body === 'dead' || (body === 'retry' && seen[body] < 3)) throw new Error(`consume ${body}: retry later`);
  });
  await consumer.ready();
  const producer = new Producer(clientOptions(a.namesrv, { producerGroup: 'ons-delay-producer' }));
  producer.on('error', err => process.stderr.write(`producer error: ${err.message}\n`));
  await producer.ready();
  for (const body of [ 'level2', 'ons', 'retry', 'dead' ]) {
    const msg = new Message(a.topic, 'd', body);
    if (body === 'level2') msg.delayTimeLevel = 2;
    sentAt[body] = Date.now();
    if (body === 'ons') msg.setStartDeliverTime(sentAt[body] + 2500);
    const r = await producer.send(msg);
    if (r.sendStatus !== 'SEND_OK') throw new Error(`send ${body}: ${JSON.stringify(r)}`);
  }
  await Promise.race([ finished, sleep(Number(a.timeout)) ]);
  await sleep(1500); // the last send-back reaches the broker
  // A socket closed under a pending request while closing is not a result.
  await Promise.race([ Promise.all([ producer.close(), consumer.close() ]).catch(() => {}), sleep(3000) ]);
  process.exit(0);
})().catch(err => {
  process.stderr.write(`ons_delay: ${err.stack}\n`);
  process.exit(1);
});
