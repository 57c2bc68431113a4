// kafkajs against the broker's Kafka listener (run by kafkajs_test.sh,
// which sets NODE_PATH to the kafkajs it installed and KAFKA_BOOTSTRAP to
// a fresh broker):
//   1. admin: createTopics (3 partitions; again: false, it exists),
//      listTopics, fetchTopicMetadata (3 partitions led by node 1);
//   2. producer: two sends of a batch of 300 keyed messages each, acks=-1;
//      every partition's second batch starts where its first ended;
//   3. consumer group: eachMessage gets every message once, in produce
//      order per partition, offsets without gaps; the group's offsets
//      (admin.fetchOffsets) are the partitions' ends; listGroups and
//      describeGroups show the group, Empty once its member left;
//   4. admin: deleteTopicRecords (DeleteRecords) cuts partition 0 at its
//      middle: fetchTopicOffsets shows the new low watermark, and a new
//      group reading from the beginning starts partition 0 there;
//   5. admin: alterPartitionReassignments and listPartitionReassignments
//      (Kafka's KRaft semantics).  Everywhere: an unregistered broker, an
//      empty list and a broker twice are INVALID_REPLICA_ASSIGNMENT, an
//      unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION, a cancel with
//      none running NO_REASSIGNMENT_IN_PROGRESS.  One broker: [1] is a
//      no-op success, [2] refused, nothing ever listed.  A cluster: a
//      topic of replication factor 1 (2 partitions, messages sent with
//      acks=-1) moves to all three brokers, the original replica last;
//      while listed, a move shows the target and the replicas it adds;
//      it ends by itself, Metadata then shows the target in order, all in
//      sync; messages sent after it are acknowledged by all three, and a
//      new group reads every message;
//   6. admin: deleteTopics; listTopics no longer shows the topic.
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
const { Kafka, Partitioners, logLevel } = kafkajs;

const BOOT = process.env.KAFKA_BOOTSTRAP;
// kafka_broker_run's brokers: one, or a cluster (topics of its size)
const RF = Number(process.env.KAFKA_CLUSTER_SIZE || '1');
const TOPIC = 'js-orders';
const OTHER = 'js-other';
const MOVED = 'js-moved';
const GROUP = 'js-group';
const PARTITIONS = 3;
const BATCH = 300;
const COUNT = 2 * BATCH;

function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exit(1);
}
if (!BOOT) fail('KAFKA_BOOTSTRAP is not set (run kafkajs_test.sh)');
setTimeout(() => fail('the test did not finish within 55 s'), 55000).unref();

const key = (seq) => 'k-' + (seq % 13);
const value = (seq) => 'v-' + String(seq).padStart(5, '0') + '-kafkajs';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// alterPartitionReassignments of one partition: null when it succeeds,
// else the error types kafkajs gives (a partition's error comes inside a
// KafkaJSAggregateError, a request's error alone)
async function reassign(admin, topic, partition, replicas) {
  try {
    await admin.alterPartitionReassignments({
      topics: [{ topic, partitionAssignment: [{ partition, replicas }] }], timeout: 5000 });
    return null;
  } catch (e) {
    return (e.errors || [e]).map((x) => x.type || (x.name + ': ' + x.message)).join(',');
  }
}

// kafkajs refuses replicas that are not an array, so it cannot ask for a
// cancel (replicas null) as such: an array whose map() gives null passes
// its checks and is encoded as the null array
class NullReplicas extends Array {
  map() { return null; }
}

// listPartitionReassignments (kafkajs' answer: topics [{ name, partitions:
// [{ partition, replicas, addingReplicas, removingReplicas }] }])
async function listMoves(admin, topics) {
  const r = await admin.listPartitionReassignments(topics ? { topics, timeout: 5000 }
                                                          : { timeout: 5000 });
  if (!r || !Array.isArray(r.topics))
    fail('listPartitionReassignments returned ' + JSON.stringify(r));
  return r.topics;
}

// checks both setups make: refusals and a cancel with none running
async function reassignRefusals(admin, topic, ok) {
  const want = [
    [[99], 0, 'INVALID_REPLICA_ASSIGNMENT', 'an unregistered broker'],
    [[], 0, 'INVALID_REPLICA_ASSIGNMENT', 'an empty list'],
    [[ok, ok], 0, 'INVALID_REPLICA_ASSIGNMENT', 'a broker twice'],
    [[ok], 7, 'UNKNOWN_TOPIC_OR_PARTITION', 'partition 7'],
    [new NullReplicas(), 0, 'NO_REASSIGNMENT_IN_PROGRESS', 'a cancel with none running'],
  ];
  for (const [replicas, partition, type, what] of want) {
    const got = await reassign(admin, topic, partition, replicas);
    if (got !== type)
      fail('alterPartitionReassignments ' + topic + '/' + partition + ' to ' +
        (replicas instanceof NullReplicas ? 'null' : JSON.stringify(replicas)) + ' (' + what +
        '): ' + (got || 'success') + ', expected ' + type);
  }
  const got = await reassign(admin, 'js-no-such-topic', 0, [ok]);
  if (got !== 'UNKNOWN_TOPIC_OR_PARTITION')
    fail('alterPartitionReassignments of an unknown topic: ' + (got || 'success') +
      ', expected UNKNOWN_TOPIC_OR_PARTITION');
}

async function main() {
  console.log('kafkajs ' + require('kafkajs/package.json').version + ', bootstrap ' + BOOT);
  const kafka = new Kafka({
    clientId: 'kafkajs-test',
    brokers: BOOT.split(','),
    logLevel: logLevel.WARN,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { retries: 3, initialRetryTime: 200 },
  });

  // 1. admin
  const admin = kafka.admin();
  await admin.connect();
  console.log('== createTopics ' + TOPIC + ' (' + PARTITIONS + ' partitions), ' + OTHER);
  let created = await admin.createTopics({
    topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: RF },
             { topic: OTHER, numPartitions: 1, replicationFactor: RF }],
    waitForLeaders: true,
    timeout: 10000,
  });
  if (created !== true) fail('createTopics returned ' + created + ', expected true');
  // kafkajs logs the TOPIC_ALREADY_EXISTS answer at ERROR: a quiet client
  const quiet = new Kafka({ clientId: 'kafkajs-test-quiet', brokers: BOOT.split(','),
                            logLevel: logLevel.NOTHING });
  const admin2 = quiet.admin();
  await admin2.connect();
  created = await admin2.createTopics({
    topics: [{ topic: TOPIC, numPartitions: PARTITIONS }], timeout: 10000 });
  await admin2.disconnect();
  if (created !== false) fail('createTopics of an existing topic returned ' + created + ', expected false');
  // a cluster's broker other than the one that took the creation learns
  // of the topics a moment later (as a KRaft broker does): asked again
  let topics = await admin.listTopics();
  for (const t0 = Date.now(); (!topics.includes(TOPIC) || !topics.includes(OTHER)) &&
       Date.now() - t0 < 5000;) {
    await sleep(100);
    topics = await admin.listTopics();
  }
  if (!topics.includes(TOPIC) || !topics.includes(OTHER))
    fail('listTopics: ' + JSON.stringify(topics) + ' lacks ' + TOPIC + ' or ' + OTHER);
  const md = await admin.fetchTopicMetadata({ topics: [TOPIC] });
  if (md.topics.length !== 1 || md.topics[0].name !== TOPIC)
    fail('fetchTopicMetadata: ' + JSON.stringify(md));
  const parts = md.topics[0].partitions.slice().sort((a, b) => a.partitionId - b.partitionId);
  if (parts.length !== PARTITIONS) fail('fetchTopicMetadata: ' + parts.length + ' partitions');
  parts.forEach((p, i) => {
    const sorted = (a) => JSON.stringify(a.slice().sort((x, y) => x - y));
    if (p.partitionId !== i || p.partitionErrorCode !== 0 || p.replicas.length !== RF ||
        !p.replicas.includes(p.leader) || sorted(p.isr) !== sorted(p.replicas))
      fail('fetchTopicMetadata: partition ' + JSON.stringify(p) + ' (expected ' + RF +
        ' replicas, the leader among them, all in sync)');
  });
  console.log('ok: created; again: false; listTopics ' + JSON.stringify(topics.sort()) +
    '; metadata: partitions 0..' + (PARTITIONS - 1) + ', ' + RF + ' replica(s) each');

  // 2. producer
  console.log('== producer: 2 batches of ' + BATCH);
  const producer = kafka.producer({ allowAutoTopicCreation: false,
                                   createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const ends = new Array(PARTITIONS).fill(0);
  for (let b = 0; b < 2; b++) {
    const messages = [];
    for (let i = 0; i < BATCH; i++) {
      const seq = b * BATCH + i;
      messages.push({ key: key(seq), value: value(seq) });
    }
    const meta = await producer.send({ topic: TOPIC, acks: -1, messages });
    const seen = new Set();
    for (const r of meta) {
      if (r.topicName !== TOPIC || r.errorCode !== 0) fail('send: ' + JSON.stringify(r));
      if (Number(r.baseOffset) !== ends[r.partition])
        fail('send ' + (b + 1) + ': partition ' + r.partition + ' baseOffset ' + r.baseOffset +
          ', expected ' + ends[r.partition]);
      seen.add(r.partition);
    }
    // how many went to each partition: the keys decide, through the
    // producer's own partitioner (Java's murmur2)
    const counts = new Array(PARTITIONS).fill(0);
    const partitioner = Partitioners.DefaultPartitioner();
    const pmeta = parts.map((p) => ({ partitionId: p.partitionId, leader: p.leader }));
    for (const m of messages)
      counts[partitioner({ topic: TOPIC, partitionMetadata: pmeta, message: m })]++;
    counts.forEach((c, p) => {
      if (c > 0 && !seen.has(p)) fail('send ' + (b + 1) + ': no result for partition ' + p);
      ends[p] += c;
    });
  }
  await producer.disconnect();
  console.log('ok: both batches acknowledged, partition ends ' + JSON.stringify(ends));

  // 3. consumer group
  console.log('== consumer group ' + GROUP);
  const consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 6000,
                                    heartbeatInterval: 500, rebalanceTimeout: 6000 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const next = new Array(PARTITIONS).fill(0);
  const lastSeq = new Array(PARTITIONS).fill(-1);
  const keyPart = new Map();
  const seen = new Set();
  let got = 0;
  let problem = null;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const k = message.key ? message.key.toString() : null;
      const v = message.value ? message.value.toString() : null;
      const o = Number(message.offset);
      const seq = v ? parseInt(v.slice(2, 7), 10) : -1;
      if (topic !== TOPIC || o !== next[partition] || v !== value(seq) || k !== key(seq) ||
          seq <= lastSeq[partition] || seen.has(seq) ||
          (keyPart.has(k) && keyPart.get(k) !== partition)) {
        problem = problem || ('partition ' + partition + ' offset ' + o + ' (expected ' +
          next[partition] + '): ' + k + ':' + v + ' after message ' + lastSeq[partition] +
          (seen.has(seq) ? ' (seen before)' : ''));
        resolveDone();
        return;
      }
      keyPart.set(k, partition);
      seen.add(seq);
      next[partition] = o + 1;
      lastSeq[partition] = seq;
      if (++got === COUNT) resolveDone();
    },
  });
  const timer = setTimeout(resolveDone, 25000);
  await done;
  clearTimeout(timer);
  await consumer.disconnect();
  if (problem) fail('eachMessage: ' + problem);
  if (got !== COUNT || JSON.stringify(next) !== JSON.stringify(ends))
    fail('eachMessage: ' + got + ' of ' + COUNT + ' messages in 25 s; per partition ' +
      JSON.stringify(next) + ' of ' + JSON.stringify(ends));
  console.log('ok: ' + got + ' messages, each once, in order per partition');
  const offs = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
  const committed = new Array(PARTITIONS).fill(null);
  for (const t of offs)
    for (const p of t.partitions) committed[p.partition] = Number(p.offset);
  if (JSON.stringify(committed) !== JSON.stringify(ends))
    fail('fetchOffsets: committed ' + JSON.stringify(committed) + ', expected ' + JSON.stringify(ends));
  const groups = await admin.listGroups();
  if (!groups.groups.some((g) => g.groupId === GROUP && g.protocolType === 'consumer'))
    fail('listGroups: ' + JSON.stringify(groups) + ' lacks ' + GROUP + ' (consumer)');
  const desc = await admin.describeGroups([GROUP]);
  if (desc.groups.length !== 1 || desc.groups[0].groupId !== GROUP ||
      desc.groups[0].errorCode !== 0 || desc.groups[0].state !== 'Empty' ||
      desc.groups[0].members.length !== 0)
    fail('describeGroups: ' + JSON.stringify(desc) + ', expected ' + GROUP + ' Empty, no members');
  console.log('ok: committed ' + JSON.stringify(committed) +
    '; listGroups and describeGroups show ' + GROUP + ' Empty');

  // 4. deleteTopicRecords: partition 0 starts at its middle; a new group
  // reading from the beginning starts there
  const cut = Math.floor(ends[0] / 2);
  console.log('== deleteTopicRecords ' + TOPIC + ' partition 0 before offset ' + cut);
  if (cut < 1) fail('partition 0 has ' + ends[0] + ' messages: nothing to delete');
  await admin.deleteTopicRecords({ topic: TOPIC, partitions: [{ partition: 0, offset: String(cut) }] });
  const lows = await admin.fetchTopicOffsets(TOPIC);
  for (const p of lows) {
    const want = p.partition === 0 ? cut : 0;
    if (Number(p.low) !== want || Number(p.high) !== ends[p.partition])
      fail('fetchTopicOffsets after deleteTopicRecords: ' + JSON.stringify(lows) +
        ', expected partition ' + p.partition + ' low ' + want + ' high ' + ends[p.partition]);
  }
  const again = kafka.consumer({ groupId: GROUP + '-after-delete', sessionTimeout: 6000,
                                 heartbeatInterval: 500, rebalanceTimeout: 6000 });
  await again.connect();
  await again.subscribe({ topic: TOPIC, fromBeginning: true });
  const first = new Array(PARTITIONS).fill(-1);
  const upto = new Array(PARTITIONS).fill(0);
  let got2 = 0;
  let resolve2;
  const done2 = new Promise((r) => { resolve2 = r; });
  await again.run({
    eachMessage: async ({ partition, message }) => {
      const o = Number(message.offset);
      if (first[partition] < 0) first[partition] = o;
      upto[partition] = o + 1;
      if (++got2 === COUNT - cut) resolve2();
    },
  });
  const timer2 = setTimeout(resolve2, 20000);
  await done2;
  clearTimeout(timer2);
  await again.disconnect();
  const wantFirst = ends.map((e, p) => (e === 0 ? -1 : p === 0 ? cut : 0));
  if (got2 !== COUNT - cut || JSON.stringify(first) !== JSON.stringify(wantFirst) ||
      JSON.stringify(upto) !== JSON.stringify(ends))
    fail('after deleteTopicRecords: ' + got2 + ' of ' + (COUNT - cut) + ' messages, first offsets ' +
      JSON.stringify(first) + ' (expected ' + JSON.stringify(wantFirst) + '), ends ' +
      JSON.stringify(upto));
  console.log('ok: low watermark ' + cut + '; a new group from the beginning read ' + got2 +
    ' messages, partition 0 from offset ' + cut);

  // 5. partition reassignments
  const t5 = Date.now();
  if (RF === 1) {
    console.log('== alterPartitionReassignments on one broker (' + TOPIC + ' partition 0)');
    let got = await reassign(admin, TOPIC, 0, [1]);
    if (got !== null) fail('alterPartitionReassignments to [1] (a no-op): ' + got);
    got = await reassign(admin, TOPIC, 0, [2]);
    if (got !== 'INVALID_REPLICA_ASSIGNMENT')
      fail('alterPartitionReassignments to [2] (no such broker): ' + (got || 'success') +
        ', expected INVALID_REPLICA_ASSIGNMENT');
    await reassignRefusals(admin, TOPIC, 1);
    let listed = await listMoves(admin, null);
    if (listed.length !== 0) fail('listPartitionReassignments (all): ' + JSON.stringify(listed));
    listed = await listMoves(admin, [{ topic: TOPIC, partitions: [0, 1, 2] }]);
    if (listed.length !== 0)
      fail('listPartitionReassignments ' + TOPIC + ': ' + JSON.stringify(listed));
    const after = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    for (const p of after.topics[0].partitions)
      if (JSON.stringify(p.replicas) !== '[1]' || JSON.stringify(p.isr) !== '[1]')
        fail('fetchTopicMetadata after the no-op reassignment: ' + JSON.stringify(p));
    console.log('ok: [1] accepted, [2], [99], [], [1,1] refused, partition 7 and an unknown ' +
      'topic unknown, a cancel: none in progress; nothing listed (' + (Date.now() - t5) + ' ms)');
  } else {
    console.log('== alterPartitionReassignments: ' + MOVED + ' (replication factor 1) to all ' +
      RF + ' brokers');
    const MP = 2;
    const HALF = 20;
    created = await admin.createTopics({
      topics: [{ topic: MOVED, numPartitions: MP, replicationFactor: 1 }],
      waitForLeaders: true, timeout: 10000 });
    if (created !== true) fail('createTopics ' + MOVED + ' returned ' + created);
    const cl = await admin.describeCluster();
    const ids = cl.brokers.map((b) => b.nodeId).sort((x, y) => x - y);
    if (ids.length !== RF) fail('describeCluster: ' + JSON.stringify(cl.brokers) + ', expected ' + RF);
    // createTopics waited for the leaders on the controller; another
    // broker may learn of the topic a moment later
    let before;
    for (const t0 = Date.now(); ;) {
      try {
        before = await admin.fetchTopicMetadata({ topics: [MOVED] });
        if (before.topics[0].partitions.length === MP &&
            before.topics[0].partitions.every((p) => p.partitionErrorCode === 0)) break;
      } catch (e) {
        if (e.type !== 'UNKNOWN_TOPIC_OR_PARTITION' && e.type !== 'LEADER_NOT_AVAILABLE') throw e;
        before = e.type;
      }
      if (Date.now() - t0 > 5000)
        fail('fetchTopicMetadata ' + MOVED + ' 5 s after createTopics: ' + JSON.stringify(before));
      await sleep(100);
    }
    const targets = new Array(MP).fill(null);
    for (const p of before.topics[0].partitions) {
      if (p.replicas.length !== 1 || p.leader !== p.replicas[0] || p.partitionErrorCode !== 0)
        fail('fetchTopicMetadata ' + MOVED + ': ' + JSON.stringify(p) + ', expected one replica');
      // the others first, the original replica last (not the preferred one)
      targets[p.partitionId] = ids.filter((b) => b !== p.leader).concat([p.leader]);
    }
    if (targets.includes(null)) fail('fetchTopicMetadata ' + MOVED + ': ' + JSON.stringify(before));
    const producer2 = kafka.producer({ allowAutoTopicCreation: false });
    await producer2.connect();
    const sendHalf = async (h) => {
      const messages = [];
      for (let p = 0; p < MP; p++)
        for (let i = 0; i < HALF; i++) {
          const seq = h * MP * HALF + p * HALF + i;
          messages.push({ partition: p, key: key(seq), value: value(seq) });
        }
      const res = await producer2.send({ topic: MOVED, acks: -1, messages });
      for (const r of res)
        if (r.errorCode !== 0 || Number(r.baseOffset) !== h * HALF)
          fail('send to ' + MOVED + ' (' + (h ? 'after' : 'before') + ' the move): ' +
            JSON.stringify(res));
    };
    await sendHalf(0);

    await reassignRefusals(admin, MOVED, targets[0][0]);
    const moveStart = Date.now();
    try {
      await admin.alterPartitionReassignments({ timeout: 5000, topics: [{ topic: MOVED,
        partitionAssignment: targets.map((replicas, partition) => ({ partition, replicas })) }] });
    } catch (e) {
      fail('alterPartitionReassignments ' + MOVED + ' to ' + JSON.stringify(targets) + ': ' +
        ((e.errors || [e]).map((x) => x.type || x.message).join(',')));
    }
    // listed until every target replica is in sync, then ended by itself;
    // what it shows meanwhile is the target (the original replica is in
    // it) and the replicas it adds.  The broker kafkajs asks (the one its
    // last Metadata came from) may not have seen the change yet: done once
    // nothing is listed and Metadata shows the target, all in sync.
    const seenMoving = new Set();
    const sorted = (a) => JSON.stringify(a.slice().sort((x, y) => x - y));
    let md2;
    for (;;) {
      const listed = await listMoves(admin, null);
      const mine = listed.filter((t) => t.name === MOVED);
      if (listed.length !== mine.length)
        fail('listPartitionReassignments shows other topics: ' + JSON.stringify(listed));
      for (const p of (mine.length ? mine[0].partitions : [])) {
        const want = targets[p.partition];
        const adding = want ? want.slice(0, -1) : [];
        if (!want || JSON.stringify(p.replicas) !== JSON.stringify(want) ||
            sorted(p.addingReplicas) !== sorted(adding) || p.removingReplicas.length !== 0)
          fail('listPartitionReassignments during the move: ' + JSON.stringify(p) +
            ', expected replicas ' + JSON.stringify(want) + ', adding ' + JSON.stringify(adding) +
            ', removing []');
        seenMoving.add(p.partition);
      }
      if (mine.length === 0) {
        md2 = await admin.fetchTopicMetadata({ topics: [MOVED] });
        const ps = md2.topics[0].partitions;
        if (ps.length === MP && ps.every((p) => p.partitionErrorCode === 0 &&
              JSON.stringify(p.replicas) === JSON.stringify(targets[p.partitionId]) &&
              sorted(p.isr) === sorted(p.replicas) && p.replicas.includes(p.leader)))
          break;
      }
      if (Date.now() - moveStart > 20000)
        fail('20 s after the move: listPartitionReassignments shows ' + JSON.stringify(mine) +
          ', fetchTopicMetadata ' + JSON.stringify(md2 && md2.topics[0].partitions) +
          ' (expected nothing listed, replicas ' + JSON.stringify(targets) + ', all in sync)');
      await sleep(100);
    }
    const moveMs = Date.now() - moveStart;
    await sendHalf(1);
    await producer2.disconnect();
    const moff = await admin.fetchTopicOffsets(MOVED);
    if (moff.length !== MP || moff.some((p) => Number(p.low) !== 0 || Number(p.high) !== 2 * HALF))
      fail('fetchTopicOffsets ' + MOVED + ': ' + JSON.stringify(moff) + ', expected 0..' + 2 * HALF);
    // a short fetch wait: disconnect() waits for the fetch in flight
    const reader = kafka.consumer({ groupId: MOVED + '-group', sessionTimeout: 6000,
                                    heartbeatInterval: 500, rebalanceTimeout: 6000,
                                    maxWaitTimeInMs: 200 });
    await reader.connect();
    await reader.subscribe({ topic: MOVED, fromBeginning: true });
    const readNext = new Array(MP).fill(0);
    let readBad = null;
    let readGot = 0;
    let resolve3;
    const done3 = new Promise((r) => { resolve3 = r; });
    await reader.run({
      eachMessage: async ({ partition, message }) => {
        const o = Number(message.offset);
        const seq = (o < HALF ? 0 : MP * HALF - HALF) + partition * HALF + o;
        const v = message.value ? message.value.toString() : null;
        if (o !== readNext[partition] || v !== value(seq))
          readBad = readBad || ('partition ' + partition + ' offset ' + o + ' (expected ' +
            readNext[partition] + '): ' + v + ', expected ' + value(seq));
        readNext[partition] = o + 1;
        if (readBad || ++readGot === MP * 2 * HALF) resolve3();
      },
    });
    const timer3 = setTimeout(resolve3, 10000);
    await done3;
    clearTimeout(timer3);
    await reader.disconnect();
    if (readBad) fail('reading ' + MOVED + ' after the move: ' + readBad);
    if (readGot !== MP * 2 * HALF)
      fail('reading ' + MOVED + ' after the move: ' + readGot + ' of ' + MP * 2 * HALF +
        ' messages in 10 s, per partition ' + JSON.stringify(readNext));
    const gone = await reassign(admin, MOVED, 0, new NullReplicas());
    if (gone !== 'NO_REASSIGNMENT_IN_PROGRESS')
      fail('cancel after the move ended: ' + (gone || 'success') + ', expected NO_REASSIGNMENT_IN_PROGRESS');
    console.log('ok: [99], [], [' + targets[0][0] + ',' + targets[0][0] + '] refused, partition 7 ' +
      'and an unknown topic unknown, a cancel: none in progress (before and after); moved to ' +
      JSON.stringify(targets) + ', listed ' +
      'while moving: partitions ' + JSON.stringify([...seenMoving].sort()) + ', done in ' +
      moveMs + ' ms; metadata ' + JSON.stringify(md2.topics[0].partitions.map((p) =>
        ({ p: p.partitionId, replicas: p.replicas, isr: p.isr, leader: p.leader }))) +
      '; ' + readGot + ' messages read back (' + (Date.now() - t5) + ' ms)');
  }

  // 6. delete
  console.log('== deleteTopics ' + TOPIC);
  await admin.deleteTopics({ topics: [TOPIC], timeout: 10000 });
  const deadline = Date.now() + 10000;
  for (;;) {
    topics = await admin.listTopics();
    if (!topics.includes(TOPIC)) break;
    if (Date.now() > deadline) fail('listTopics still shows ' + TOPIC + ' 10 s after deleteTopics');
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!topics.includes(OTHER)) fail('listTopics lost ' + OTHER + ' too: ' + JSON.stringify(topics));
  await admin.disconnect();
  console.log('ok: deleted; listTopics ' + JSON.stringify(topics.sort()));
  console.log('PASS: kafkajs admin, producer, consumer group, deleteTopicRecords, ' +
    'partition reassignments');
  process.exit(0);
}

main().catch((e) => fail((e && e.stack) || String(e)));
