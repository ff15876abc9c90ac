'use strict';
// Scenario (c), producer side: ali-ons (which has no transactional producer
// API) sends one half message the way RocketMQ's Java client marks one:
// properties TRAN_MSG=true and PGROUP=<group>; ali-ons then sets sysFlag
// TRANSACTION_PREPARED_TYPE itself (mq_producer.js). It sends no
// END_TRANSACTION: the broker must keep the message invisible until a check
// back is answered. Prints {body, tags, keys, msgId} and closes (the ali-ons
// producer leaves its group).
//   node ons_txn_half.js NAMESRV TOPIC GROUP
const { Producer, Message } = require('ali-ons');
const { clientOptions, args } = require('./common');

const a = args([ 'namesrv', 'topic', 'group' ]);

(async () => {
  const producer = new Producer(clientOptions(a.namesrv, { producerGroup: a.group }));
  producer.on('error', err => process.stderr.write(`producer error: ${err.stack}\n`));
  await producer.ready();
  const body = `ons-half-${Math.random().toString(36).slice(2, 8)}`;
  const msg = new Message(a.topic, 'half', body);
  msg.keys = [ 'half-key' ];
  msg.properties.TRAN_MSG = 'true';
  msg.properties.PGROUP = a.group;
  const r = await producer.send(msg);
  if (r.sendStatus !== 'SEND_OK') {
    process.stderr.write(`send: ${JSON.stringify(r)}\n`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({ body, tags: 'half', keys: 'half-key', msgId: r.msgId }) + '\n');
  await Promise.race([ producer.close(), new Promise(res => setTimeout(res, 3000)) ]);
  process.exit(0);
})().catch(err => {
  process.stderr.write(`ons_txn_half: ${err.stack}\n`);
  process.exit(1);
});
