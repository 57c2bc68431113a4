// Sarama (Debian's golang-github-shopify-sarama-dev, a Go client with a
// protocol implementation of its own) against the broker's Kafka listener.
//
// Built by sarama_test.sh with `go test -c` in GOPATH mode, offline, and run
// under kafka_broker_run ($KAFKA_BOOTSTRAP).  One run uses one
// config.Version for every client: -sarama.version=default keeps
// sarama.NewConfig()'s (V0_8_2_0 in Sarama 1.22: Metadata v0, Produce and
// Fetch v0 with MessageSet v0), -sarama.version=2.1.0 sets V2_1_0_0
// (RecordBatch v2).  Everything else is Sarama's default configuration.
// The parts, in order (-sarama.parts picks some; each needs the ones
// before it that it names):
//
//	admin     ClusterAdmin.CreateTopic: 3 partitions; again gives
//	          ErrTopicAlreadyExists; DescribeTopics shows partitions 0..2
//	          led by broker 1; DescribeConfig gives the broker's
//	          retention.ms.  Below V0_10_1_0 Sarama refuses CreateTopics
//	          itself (ErrUnsupportedVersion, checked), so the topic is
//	          created by an admin at V0_10_1_0, the lowest it allows.
//	metadata  Client at the run's version: partitions 0..2, leader broker 1
//	          at the bootstrap address, replicas and ISR [1].
//	produce   SyncProducer: COUNT keyed messages, offsets 0..n-1 per
//	          partition in send order, a key always in one partition.
//	consume   Client.GetOffset oldest 0 and newest the end (ListOffsets);
//	          a PartitionConsumer per partition from the oldest offset:
//	          every message once at its offset, key and value intact, the
//	          high watermark the end.
//	offsets   OffsetManager (OffsetCommit/OffsetFetch without group
//	          membership): nothing committed at first; the ends marked and
//	          committed on Close; a new OffsetManager reads them back; MORE
//	          messages produced are read by PartitionConsumers started at
//	          the committed offsets: exactly the new ones.
//	group     ConsumerGroup (Sarama needs V0_10_2_0: below it
//	          NewConsumerGroup must refuse, checked, and the part ends):
//	          one member reads the topic from the oldest offset, every
//	          message once, marks them; after Close the committed offsets
//	          (ClusterAdmin.ListConsumerGroupOffsets) are the ends; MORE
//	          messages, and a new member of the group gets exactly those.
//	delete    ClusterAdmin.DeleteTopic (by the admin of part 1): the topic
//	          is gone from DescribeTopics.
//
// Every wait has a deadline.  SARAMA_DEBUG=1 prints Sarama's own log.
//
// The requests Sarama 1.22 sends (it never sends ApiVersions: it trusts
// config.Version), as key name and version:
//
//	2.1.0    Metadata v5, CreateTopics v2, DescribeConfigs v0, DeleteTopics
//	         v1, Produce v3 (RecordBatch v2), ListOffsets v1, Fetch v4,
//	         FindCoordinator v0, OffsetFetch v1, OffsetCommit v1 (v2 only
//	         when Consumer.Offsets.Retention is set), JoinGroup v1,
//	         SyncGroup v0, Heartbeat v0, LeaveGroup v0
//	default  Metadata v0, Produce v0 (MessageSet v0), ListOffsets v0, Fetch
//	         v0 (Sarama reads a RecordBatch v2 in any Fetch version: it
//	         looks at each batch's magic), FindCoordinator v0, OffsetFetch
//	         v1, OffsetCommit v1; its admin at V0_10_1_0: Metadata v1,
//	         CreateTopics v0, DeleteTopics v0
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Shopify/sarama"
)

const (
	partitions = 3
	count      = 300 // messages of part produce
	more       = 60  // messages of parts offsets and group, each
)

var (
	versionFlag = flag.String("sarama.version", "default",
		"config.Version of every client: default (sarama.NewConfig's) or 2.1.0")
	partsFlag = flag.String("sarama.parts", "admin,metadata,produce,consume,offsets,group,delete",
		"the parts to run, in their order")
)

// One run's state, passed from part to part.
type run struct {
	t       *testing.T
	boot    string
	addrs   []string // the bootstrap list: broker i+1 at addrs[i]
	version sarama.KafkaVersion
	topic   string
	admin   sarama.ClusterAdmin
	client  sarama.Client
	prod    sarama.SyncProducer
	seq     int               // messages produced so far
	at      map[[2]int64]int  // (partition, offset) -> seq
	ends    [partitions]int64 // next offset of each partition
	keyPart map[string]int32  // key -> its partition
	values  map[int]string    // seq -> value
}

func key(seq int) string { return fmt.Sprintf("k-%d", seq%13) }

// every broker's id: a topic's replicas (its replication factor is the
// number of brokers)
func (r *run) everyBroker() []int32 {
	ids := make([]int32, len(r.addrs))
	for i := range ids {
		ids[i] = int32(i + 1)
	}
	return ids
}

// whether b is broker i+1 at r.addrs[i]
func (r *run) known(b *sarama.Broker) bool {
	i := int(b.ID()) - 1
	return i >= 0 && i < len(r.addrs) && b.Addr() == r.addrs[i]
}

// a partition on every broker, in sync, led by one of them
func (r *run) placed(leader int32, replicas, isr []int32) bool {
	sorted := func(a []int32) []int32 {
		b := append([]int32(nil), a...)
		sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
		return b
	}
	want := r.everyBroker()
	return leader >= 1 && int(leader) <= len(r.addrs) &&
		reflect.DeepEqual(sorted(replicas), want) && reflect.DeepEqual(sorted(isr), want)
}

func (r *run) config(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = r.version
	c.ClientID = clientID
	return c
}

func TestSarama(t *testing.T) {
	r := &run{t: t, boot: os.Getenv("KAFKA_BOOTSTRAP"),
		at: map[[2]int64]int{}, keyPart: map[string]int32{}, values: map[int]string{}}
	if r.boot == "" {
		t.Fatal("KAFKA_BOOTSTRAP is not set: run through sarama_test.sh (meson test kafka_sarama)")
	}
	switch *versionFlag {
	case "default":
		r.version = sarama.NewConfig().Version
	case "2.1.0":
		r.version = sarama.V2_1_0_0
	default:
		t.Fatalf("-sarama.version=%q: default or 2.1.0", *versionFlag)
	}
	if os.Getenv("SARAMA_DEBUG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Lmicroseconds)
	}
	r.addrs = strings.Split(r.boot, ",")
	if n := os.Getenv("KAFKA_CLUSTER_SIZE"); n != "" && n != fmt.Sprint(len(r.addrs)) {
		t.Fatalf("KAFKA_CLUSTER_SIZE %s, but %d brokers in %s", n, len(r.addrs), r.boot)
	}
	r.topic = "sr-" + strings.ReplaceAll(*versionFlag, ".", "")
	t.Logf("Sarama config.Version %s, bootstrap %s, topic %s", r.version, r.boot, r.topic)
	parts := map[string]func(){"admin": r.partAdmin, "metadata": r.partMetadata,
		"produce": r.partProduce, "consume": r.partConsume, "offsets": r.partOffsets,
		"group": r.partGroup, "delete": r.partDelete}
	for _, name := range strings.Split(*partsFlag, ",") {
		f := parts[name]
		if f == nil {
			t.Fatalf("-sarama.parts: no part %q", name)
		}
		t.Logf("== %s", name)
		f()
	}
	if r.prod != nil {
		r.prod.Close()
	}
	if r.client != nil {
		r.client.Close()
	}
	if r.admin != nil {
		r.admin.Close()
	}
	t.Logf("PASS: Sarama %s, config.Version %s: %s", "1.22", r.version, *partsFlag)
}

func (r *run) needClient() {
	if r.client != nil {
		return
	}
	cfg := r.config("sr-client")
	cfg.Producer.Return.Successes = true // for the SyncProducer of this client
	c, err := sarama.NewClient(r.addrs, cfg)
	if err != nil {
		r.t.Fatalf("NewClient (config.Version %s): %v", r.version, err)
	}
	r.client = c
}

func (r *run) partAdmin() {
	t := r.t
	av := r.version
	if !av.IsAtLeast(sarama.V0_10_1_0) {
		// below V0_10_0_0 Sarama refuses the admin itself (client.Controller)
		a, err := sarama.NewClusterAdmin(r.addrs, r.config("sr-admin-own"))
		if err == nil {
			err = a.CreateTopic(r.topic, &sarama.TopicDetail{NumPartitions: partitions,
				ReplicationFactor: int16(len(r.addrs))}, false)
			a.Close()
		}
		if err != sarama.ErrUnsupportedVersion {
			t.Fatalf("CreateTopic at config.Version %s: %v; Sarama refuses it below "+
				"V0_10_1_0 with ErrUnsupportedVersion", av, err)
		}
		t.Logf("ok: at %s Sarama refuses CreateTopics itself; the admin uses V0_10_1_0", av)
		av = sarama.V0_10_1_0
	}
	cfg := r.config("sr-admin")
	cfg.Version = av
	a, err := sarama.NewClusterAdmin(r.addrs, cfg)
	if err != nil {
		t.Fatalf("NewClusterAdmin (config.Version %s): %v", av, err)
	}
	r.admin = a
	detail := &sarama.TopicDetail{NumPartitions: partitions,
		ReplicationFactor: int16(len(r.addrs))}
	if err := a.CreateTopic(r.topic, detail, false); err != nil {
		t.Fatalf("CreateTopic %s: %v", r.topic, err)
	}
	err = a.CreateTopic(r.topic, detail, false)
	if te, ok := err.(*sarama.TopicError); !ok || te.Err != sarama.ErrTopicAlreadyExists {
		t.Fatalf("CreateTopic of an existing topic: %v, expected ErrTopicAlreadyExists", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var md []*sarama.TopicMetadata
	for {
		md, err = a.DescribeTopics([]string{r.topic})
		if err == nil && len(md) == 1 && md[0].Err == sarama.ErrNoError &&
			len(md[0].Partitions) == partitions {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DescribeTopics %s: %v %+v", r.topic, err, md)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ps := md[0].Partitions
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	for i, p := range ps {
		if p.ID != int32(i) || p.Err != sarama.ErrNoError ||
			!r.placed(p.Leader, p.Replicas, p.Isr) {
			t.Fatalf("DescribeTopics: partition %+v; expected id %d, a leader among "+
				"replicas and isr %v", p, i, r.everyBroker())
		}
	}
	if av.IsAtLeast(sarama.V0_11_0_0) {
		entries, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource,
			Name: r.topic})
		if err != nil {
			t.Fatalf("DescribeConfig %s: %v", r.topic, err)
		}
		got := ""
		for _, e := range entries {
			if e.Name == "retention.ms" {
				got = e.Value
			}
		}
		if got != "604800000" {
			t.Fatalf("DescribeConfig: retention.ms %q, expected 604800000 (retention_hours 168)", got)
		}
		t.Logf("ok: DescribeConfig: retention.ms %s", got)
	}
	t.Logf("ok: created (admin at %s), again ErrTopicAlreadyExists, DescribeTopics "+
		"shows partitions 0..%d placed on %v", av, partitions-1, r.everyBroker())
}

func (r *run) partMetadata() {
	t := r.t
	r.needClient()
	c := r.client
	if err := c.RefreshMetadata(r.topic); err != nil {
		t.Fatalf("RefreshMetadata %s: %v", r.topic, err)
	}
	ps, err := c.Partitions(r.topic)
	if err != nil || !reflect.DeepEqual(ps, []int32{0, 1, 2}) {
		t.Fatalf("Partitions %s: %v %v, expected [0 1 2]", r.topic, ps, err)
	}
	for _, p := range ps {
		l, err := c.Leader(r.topic, p)
		if err != nil || !r.known(l) {
			t.Fatalf("Leader %s/%d: %v, expected one of %s", r.topic, p, err, r.boot)
		}
		rep, err1 := c.Replicas(r.topic, p)
		isr, err2 := c.InSyncReplicas(r.topic, p)
		if err1 != nil || err2 != nil || !r.placed(l.ID(), rep, isr) {
			t.Fatalf("partition %d: leader %d, replicas %v (%v) isr %v (%v), expected %v",
				p, l.ID(), rep, err1, isr, err2, r.everyBroker())
		}
	}
	bs := c.Brokers()
	if len(bs) != len(r.addrs) {
		t.Fatalf("Brokers: %d, expected the %d of %s", len(bs), len(r.addrs), r.boot)
	}
	for _, b := range bs {
		if !r.known(b) {
			t.Fatalf("Brokers: %d at %s is not in %s", b.ID(), b.Addr(), r.boot)
		}
	}
	t.Logf("ok: partitions %v led by brokers of %s, replicas and ISR %v", ps, r.boot,
		r.everyBroker())
}

// produce sends n keyed messages tagged tag and checks their offsets;
// returns the (partition, offset) -> seq of these messages.
func (r *run) produce(n int, tag string) map[[2]int64]int {
	t := r.t
	r.needClient()
	if r.prod == nil {
		p, err := sarama.NewSyncProducerFromClient(r.client)
		if err != nil {
			t.Fatalf("NewSyncProducer: %v", err)
		}
		r.prod = p
	}
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		seq := r.seq + i
		r.values[seq] = fmt.Sprintf("v-%05d-%s", seq, tag)
		msgs[i] = &sarama.ProducerMessage{Topic: r.topic, Key: sarama.StringEncoder(key(seq)),
			Value: sarama.StringEncoder(r.values[seq]), Metadata: seq}
	}
	if err := r.prod.SendMessages(msgs); err != nil {
		if pe, ok := err.(sarama.ProducerErrors); ok && len(pe) > 0 {
			t.Fatalf("SendMessages: %d failed, the first: %v", len(pe), pe[0].Err)
		}
		t.Fatalf("SendMessages: %v", err)
	}
	out := map[[2]int64]int{}
	for _, m := range msgs {
		seq, p, o := m.Metadata.(int), m.Partition, m.Offset
		if p < 0 || p >= partitions || o != r.ends[p] {
			t.Fatalf("message %d at partition %d offset %d; expected the next offset of its "+
				"partition (%v), in send order", seq, p, o, r.ends)
		}
		if kp, ok := r.keyPart[key(seq)]; ok && kp != p {
			t.Fatalf("key %s in partitions %d and %d", key(seq), kp, p)
		}
		r.keyPart[key(seq)] = p
		r.at[[2]int64{int64(p), o}] = seq
		out[[2]int64{int64(p), o}] = seq
		r.ends[p]++
	}
	r.seq += n
	return out
}

func (r *run) partProduce() {
	r.produce(count, "sarama")
	for p, e := range r.ends {
		if e == 0 {
			r.t.Fatalf("partition %d got none of %d messages (ends %v)", p, count, r.ends)
		}
	}
	r.t.Logf("ok: %d acknowledged in send order; partition ends %v", count, r.ends)
}

// check that m is the message produced at its partition and offset
func (r *run) check(what string, m *sarama.ConsumerMessage) {
	seq, ok := r.at[[2]int64{int64(m.Partition), m.Offset}]
	if !ok || m.Topic != r.topic || string(m.Key) != key(seq) || string(m.Value) != r.values[seq] {
		r.t.Fatalf("%s: %s/%d offset %d holds %q:%q, expected message %d (%q)", what,
			m.Topic, m.Partition, m.Offset, m.Key, m.Value, seq, r.values[seq])
	}
}

// readPartitions consumes each partition from starts[p] to r.ends[p] with
// PartitionConsumers and checks every message; then nothing more comes.
func (r *run) readPartitions(what string, starts [partitions]int64) {
	t := r.t
	cons, err := sarama.NewConsumerFromClient(r.client)
	if err != nil {
		t.Fatalf("%s: NewConsumer: %v", what, err)
	}
	defer cons.Close()
	for p := int32(0); p < partitions; p++ {
		pc, err := cons.ConsumePartition(r.topic, p, starts[p])
		if err != nil {
			t.Fatalf("%s: ConsumePartition %d at %d: %v", what, p, starts[p], err)
		}
		next := starts[p]
		timeout := time.After(15 * time.Second)
		for next < r.ends[p] {
			select {
			case m := <-pc.Messages():
				if m.Partition != p || m.Offset != next {
					t.Fatalf("%s: partition %d offset %d, expected %d", what, m.Partition, m.Offset, next)
				}
				r.check(what, m)
				next++
			case e := <-pc.Errors():
				t.Fatalf("%s: partition %d: %v", what, p, e)
			case <-timeout:
				t.Fatalf("%s: partition %d: offsets %d..%d of %d..%d within 15 s", what, p,
					starts[p], next, starts[p], r.ends[p])
			}
		}
		select {
		case m := <-pc.Messages():
			t.Fatalf("%s: partition %d: offset %d past the end %d", what, p, m.Offset, r.ends[p])
		case <-time.After(300 * time.Millisecond):
		}
		if hw := pc.HighWaterMarkOffset(); hw != r.ends[p] {
			t.Fatalf("%s: partition %d: high watermark %d, expected %d", what, p, hw, r.ends[p])
		}
		pc.Close()
	}
}

func (r *run) partConsume() {
	t := r.t
	// The producer's acks (WaitForLocal) come before the fdatasync; the
	// newest offset is the durable one, which follows within a moment.
	deadline := time.Now().Add(10 * time.Second)
	for p := int32(0); p < partitions; p++ {
		for {
			oldest, err1 := r.client.GetOffset(r.topic, p, sarama.OffsetOldest)
			newest, err2 := r.client.GetOffset(r.topic, p, sarama.OffsetNewest)
			if err1 == nil && err2 == nil && oldest == 0 && newest == r.ends[p] {
				break
			}
			if err1 != nil || err2 != nil || oldest != 0 || newest > r.ends[p] ||
				time.Now().After(deadline) {
				t.Fatalf("GetOffset partition %d: oldest %d (%v) newest %d (%v); "+
					"expected 0 and %d", p, oldest, err1, newest, err2, r.ends[p])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	r.readPartitions("partition consumer", [partitions]int64{})
	t.Logf("ok: GetOffset oldest 0, newest %v; every message once, in order, intact", r.ends)
}

func (r *run) partOffsets() {
	t := r.t
	group := "sr-offsets-" + r.topic
	om, err := sarama.NewOffsetManagerFromClient(group, r.client)
	if err != nil {
		t.Fatalf("NewOffsetManager: %v", err)
	}
	for p := int32(0); p < partitions; p++ {
		pom, err := om.ManagePartition(r.topic, p)
		if err != nil {
			t.Fatalf("ManagePartition %d: %v", p, err)
		}
		if next, _ := pom.NextOffset(); next >= 0 {
			t.Fatalf("partition %d: offset %d committed before any commit", p, next)
		}
		pom.MarkOffset(r.ends[p], "sr")
		pom.AsyncClose()
	}
	om.Close() // commits what was marked
	committed := r.ends
	om, err = sarama.NewOffsetManagerFromClient(group, r.client)
	if err != nil {
		t.Fatalf("NewOffsetManager (again): %v", err)
	}
	var got [partitions]int64
	for p := int32(0); p < partitions; p++ {
		pom, err := om.ManagePartition(r.topic, p)
		if err != nil {
			t.Fatalf("ManagePartition %d (again): %v", p, err)
		}
		got[p], _ = pom.NextOffset()
		pom.AsyncClose()
	}
	om.Close()
	if got != committed {
		t.Fatalf("committed offsets read back %v, expected %v", got, committed)
	}
	r.produce(more, "offsets")
	r.readPartitions("resumed partition consumer", got)
	t.Logf("ok: committed %v, read back; %d more read from there, none before", got, more)
}

// handler of part group: checks and marks every message, counts them.
type handler struct {
	r    *run
	mu   sync.Mutex
	seen map[[2]int64]bool
	want map[[2]int64]int
	done chan struct{}
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		pos := [2]int64{int64(m.Partition), m.Offset}
		h.mu.Lock()
		_, wanted := h.want[pos]
		twice := h.seen[pos]
		h.seen[pos] = true
		n := len(h.seen)
		h.mu.Unlock()
		if !wanted || twice {
			h.r.t.Errorf("group: partition %d offset %d: wanted %v, seen before %v",
				m.Partition, m.Offset, wanted, twice)
			return nil
		}
		h.r.check("group", m)
		s.MarkMessage(m, "")
		if n == len(h.want) {
			close(h.done)
		}
	}
	return nil
}

// groupRead runs one member of group until it has read want, then closes
// it (which commits what it marked).
func (r *run) groupRead(group, name string, want map[[2]int64]int) {
	t := r.t
	cfg := r.config(name)
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Return.Errors = true
	cg, err := sarama.NewConsumerGroup(r.addrs, group, cfg)
	if err != nil {
		t.Fatalf("NewConsumerGroup: %v", err)
	}
	h := &handler{r: r, seen: map[[2]int64]bool{}, want: want, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 5 && ctx.Err() == nil; i++ {
			err = cg.Consume(ctx, []string{r.topic}, h)
		}
		ended <- err
	}()
	select {
	case <-h.done:
	case e := <-cg.Errors():
		cancel()
		t.Fatalf("group %s: %v", group, e)
	case err := <-ended:
		t.Fatalf("group %s: Consume ended: %v", group, err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("group %s: %d of %d messages within 30 s", group, len(h.seen), len(want))
	}
	cancel()
	select {
	case <-ended:
	case <-time.After(15 * time.Second):
		t.Fatalf("group %s: Consume did not return within 15 s of the cancel", group)
	}
	if err := cg.Close(); err != nil {
		t.Fatalf("group %s: Close: %v", group, err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

func (r *run) committed(group string) [partitions]int64 {
	res, err := r.admin.ListConsumerGroupOffsets(group, map[string][]int32{r.topic: {0, 1, 2}})
	if err != nil {
		r.t.Fatalf("ListConsumerGroupOffsets %s: %v", group, err)
	}
	var got [partitions]int64
	for p := int32(0); p < partitions; p++ {
		b := res.GetBlock(r.topic, p)
		if b == nil || b.Err != sarama.ErrNoError {
			r.t.Fatalf("ListConsumerGroupOffsets %s: partition %d: %+v", group, p, b)
		}
		got[p] = b.Offset
	}
	return got
}

func (r *run) partGroup() {
	t := r.t
	group := "sr-group-" + r.topic
	if !r.version.IsAtLeast(sarama.V0_10_2_0) {
		_, err := sarama.NewConsumerGroup(r.addrs, group, r.config("sr-member"))
		if _, ok := err.(sarama.ConfigurationError); !ok {
			t.Fatalf("NewConsumerGroup at config.Version %s: %v; Sarama refuses consumer "+
				"groups below V0_10_2_0 with a ConfigurationError", r.version, err)
		}
		t.Logf("ok: at %s Sarama refuses consumer groups itself (%v)", r.version, err)
		return
	}
	all := map[[2]int64]int{}
	for k, v := range r.at {
		all[k] = v
	}
	r.groupRead(group, "sr-member-1", all)
	if got := r.committed(group); got != r.ends {
		t.Fatalf("group %s: committed %v after reading everything, expected %v", group, got, r.ends)
	}
	t.Logf("ok: one member read all %d messages once each; committed %v", len(all), r.ends)
	starts := r.ends
	fresh := r.produce(more, "group")
	r.groupRead(group, "sr-member-2", fresh)
	if got := r.committed(group); got != r.ends {
		t.Fatalf("group %s: committed %v after the new member, expected %v", group, got, r.ends)
	}
	t.Logf("ok: a new member resumed at %v and got exactly the %d new messages; committed %v",
		starts, more, r.ends)
}

func (r *run) partDelete() {
	t := r.t
	if err := r.admin.DeleteTopic(r.topic); err != nil {
		t.Fatalf("DeleteTopic %s: %v", r.topic, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		md, err := r.admin.DescribeTopics([]string{r.topic})
		if err == nil && len(md) == 1 && md[0].Err == sarama.ErrUnknownTopicOrPartition {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DescribeTopics 10 s after DeleteTopic: %v %+v", err, md)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("ok: deleted; DescribeTopics says UNKNOWN_TOPIC_OR_PARTITION")
}
