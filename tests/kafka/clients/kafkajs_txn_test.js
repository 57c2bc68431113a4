// kafkajs transactions against the broker's Kafka listener (run by
// kafkajs_test.sh kafkajs_txn_test.js):
//   1. a transactional producer commits a batch (C1), aborts one (A),
//      commits another (C2) with offsets of a consumer group sent in
//      the same transaction (txn.sendOffsets);
//   2. a consumer group at kafkajs' default isolation (read committed)
//      reads exactly C1 and C2, never A; one with readUncommitted reads
//      all three;
//   3. the group's committed offsets (admin.fetchOffsets) are the ones
//      the committed transaction sent; those of the aborted one are not
//      there;
//   4. a second producer with the same transactionalId fences the first:
//      the first one's next send fails.
// Exits 0 when all holds, 1 with what did not; gives up after 55 s.
'use strict';

let kafkajs;
try {
  kafkajs = require('kafkajs');
} catch (e) {
  console.error('FAIL: kafkajs cannot be loaded (NODE_PATH=' + process.env.NODE_PATH +
    '): tools/lib/deps.sh deps_kafkajs DIR installs it; ' + e.message);
  process.exit(1);
}
const { Kafka, logLevel } = kafkajs;

const BOOT = process.env.KAFKA_BOOTSTRAP;
const TOPIC = 'js-tx';
const PARTITIONS = 2;
const N = 60;

function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exit(1);
}
if (!BOOT) fail('KAFKA_BOOTSTRAP is not set (run kafkajs_test.sh)');
setTimeout(() => fail('the test did not finish within 55 s'), 55000).unref();

const msgs = (tag, n) => Array.from({ length: n }, (_, i) => ({ key: tag + i, value: tag + '-' + i }));

async function readAll(kafka, group, readUncommitted, want) {
  const consumer = kafka.consumer({ groupId: group, readUncommitted, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const got = [];
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => { got.push(message.value.toString()); },
  });
  const deadline = Date.now() + 15000;
  while (got.length < want && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1500)); // anything more shows up too
  await consumer.disconnect();
  return got;
}

function sameSet(got, want, what) {
  const g = [...got].sort(), w = [...want].sort();
  if (g.length !== w.length || g.some((v, i) => v !== w[i]))
    fail(what + ': read ' + g.length + ' records, want ' + w.length +
      ' (unexpected: ' + JSON.stringify(g.filter((v) => !w.includes(v)).slice(0, 3)) +
      ', missing: ' + JSON.stringify(w.filter((v) => !g.includes(v)).slice(0, 3)) + ')');
}

async function main() {
  console.log('kafkajs ' + require('kafkajs/package.json').version + ', bootstrap ' + BOOT);
  const kafka = new Kafka({
    clientId: 'kafkajs-txn', brokers: BOOT.split(','), logLevel: logLevel.NOTHING,
    connectionTimeout: 3000, requestTimeout: 10000,
    retry: { retries: 5, initialRetryTime: 200 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }], waitForLeaders: true });

  // 1. commit, abort, commit with offsets
  const producer = kafka.producer({ transactionalId: 'js-txid', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  let txn = await producer.transaction();
  await txn.send({ topic: TOPIC, messages: msgs('C1', N) });
  await txn.commit();
  txn = await producer.transaction();
  await txn.send({ topic: TOPIC, messages: msgs('A', N) });
  await txn.sendOffsets({ consumerGroupId: 'js-tx-group',
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, offset: '7' }] }] });
  await txn.abort();
  txn = await producer.transaction();
  await txn.send({ topic: TOPIC, messages: msgs('C2', N) });
  await txn.sendOffsets({ consumerGroupId: 'js-tx-group',
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, offset: '3' }, { partition: 1, offset: '5' }] }] });
  await txn.commit();
  console.log('1. committed C1, aborted A, committed C2 with offsets');

  // 2. read committed (the default) and read uncommitted
  const committed = await readAll(kafka, 'js-rc', false, 2 * N);
  sameSet(committed, msgs('C1', N).concat(msgs('C2', N)).map((m) => m.value), 'read committed');
  const every = await readAll(kafka, 'js-ru', true, 3 * N);
  sameSet(every, msgs('C1', N).concat(msgs('A', N), msgs('C2', N)).map((m) => m.value), 'read uncommitted');
  console.log('2. read committed: ' + committed.length + ' records; read uncommitted: ' + every.length);

  // 3. the offsets of the committed transaction only
  const offs = await admin.fetchOffsets({ groupId: 'js-tx-group', topics: [TOPIC] });
  const parts = {};
  for (const p of offs[0].partitions) parts[p.partition] = p.offset;
  if (parts[0] !== '3' || parts[1] !== '5')
    fail('committed offsets ' + JSON.stringify(parts) + ', want {0: 3, 1: 5}');
  console.log('3. group offsets ' + JSON.stringify(parts));

  // 4. fencing
  const second = kafka.producer({ transactionalId: 'js-txid', maxInFlightRequests: 1, idempotent: true });
  await second.connect();
  const t2 = await second.transaction();
  await t2.send({ topic: TOPIC, messages: msgs('S', 2) });
  await t2.commit();
  let fenced = null;
  try {
    const t1 = await producer.transaction();
    await t1.send({ topic: TOPIC, messages: msgs('Z', 1) });
    await t1.commit();
  } catch (e) {
    fenced = e;
  }
  if (!fenced)
    fail('a producer fenced by a newer one with its transactionalId committed a transaction');
  if (!/fenc|epoch/i.test(String(fenced.type) + ' ' + fenced.message))
    fail('the fenced producer failed, but not for fencing: ' + fenced.message);
  console.log('4. fenced: ' + (fenced.type || fenced.message));
  await second.disconnect();
  await producer.disconnect().catch(() => {});
  await admin.disconnect();
  console.log('PASS');
  process.exit(0);
}

main().catch((e) => fail((e && e.stack) || String(e)));
