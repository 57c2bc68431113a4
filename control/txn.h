/*
 * The transaction coordinator of sluice-control: Kafka's transactions
 * (KIP-98) as its TransactionCoordinator answers them: InitProducerId with
 * a transactional id (v0-6; v6's two-phase commit is not enabled:
 * Enable2Pc INVALID_TXN_STATE, KeepPreparedTxn UNSUPPORTED_VERSION, as
 * Kafka 4.3), AddPartitionsToTxn (v0-5; v4+ is the batched form brokers
 * send, verify_only included), AddOffsetsToTxn (v0-4), TxnOffsetCommit
 * (v0-5; v5 adds its group to the transaction), EndTxn (v0-5),
 * DescribeTransactions (v0) and ListTransactions (v0-2; v2's pattern a
 * POSIX extended regular expression matching the whole id,
 * INVALID_REGULAR_EXPRESSION (128) when it does not compile).  sluiced
 * forwards each such request's bytes
 * unchanged and sends back the response bytes it is given.
 *
 * A pure core: no sockets and no clock of its own.  What is written to
 * disk and must mean the same after a restart (when a transaction began,
 * and so its timeout; when an id was last used, and so its expiry) is on
 * the wall clock of the struct sl_clock in the configuration; retries of
 * a completion that failed (a disk error) run on the now_ms the caller
 * passes (any monotonic ms clock).
 *
 * State per transactional id, as Kafka names it: Empty (initialized, no
 * transaction), Ongoing (partitions or a group's offsets added),
 * PrepareCommit / PrepareAbort (EndTxn, a timeout or a new producer's
 * InitProducerId decided the outcome; the markers are being written),
 * CompleteCommit / CompleteAbort (every marker written).  Every change is
 * a record of the transaction state log (control/txnlog.h; format at the
 * top of txnlog.c), fdatasync'ed before the request that made it is
 * answered.
 *
 * Ending a transaction: once PrepareCommit or PrepareAbort is durable,
 * EndTxn is answered; a commit's pending TxnOffsetCommit offsets become
 * the groups' committed offsets (sl_groups_txn_commit, durable in the
 * offsets file); then the markers callback is handed the partitions, and
 * when sl_txn_markers_done says every one has its marker, Complete* is
 * written.  Until then requests of that id answer CONCURRENT_TRANSACTIONS,
 * as Kafka's.  After a restart, Ongoing transactions resume (and time
 * out); PrepareCommit / PrepareAbort ones apply their offsets again and
 * hand their markers again (both idempotent).
 *
 * Timeouts: an Ongoing transaction whose start is more than its timeout
 * ago is aborted with its epoch bumped (so the producer that began it is
 * fenced, at the partitions by the markers' epoch and here by the epoch
 * check); InitProducerId on an Ongoing transaction does the same and
 * answers CONCURRENT_TRANSACTIONS until the abort is complete, when a
 * retry gets the next epoch.  An id whose last change (in Empty or
 * Complete*) is older than the id expiration (Kafka's
 * transactional.id.expiration.ms) is forgotten (a DELETE record).
 *
 * Deviations from Kafka, on purpose: EndTxn v5 and AddPartitionsToTxn v4+
 * are answered with transaction version 1 semantics (no epoch bump per
 * transaction; clients use version 2 only where a broker advertises the
 * transaction.version feature, which sluiced does not); the coordinator
 * epoch of the markers is 0 (one coordinator); the groups of a transaction
 * are not listed in DescribeTransactions (Kafka lists their
 * __consumer_offsets partitions, a topic sluice does not have); the
 * limits below.
 *
 * Single-threaded: one event loop calls every function; reply() and the
 * markers callback must not call back into this module.
 */
#ifndef SLUICE_CONTROL_TXN_H
#define SLUICE_CONTROL_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/txnlog.h"

/* Kafka's transaction.max.timeout.ms default: InitProducerId above it (or
 * not > 0) is INVALID_TRANSACTION_TIMEOUT. */
#define SL_TXN_TIMEOUT_MAX_MS 900000
/* Kafka's transactional.id.expiration.ms default: 7 days. */
#define SL_TXN_ID_EXPIRATION_MS (7ll * 24 * 3600 * 1000)
/* Transactional producer ids: sluiced's idempotent ones are below (one
 * broker) or at node_id * 2^44 and above (a cluster).  In a cluster each
 * broker's coordinator hands out its own range, SL_TXN_NODE_SPAN ids from
 * SL_TXN_PRODUCER_ID_FIRST + node_id * SL_TXN_NODE_SPAN (node ids up to
 * 65535 stay below 2^44), so two coordinators never give one id to two
 * producers. */
#define SL_TXN_PRODUCER_ID_FIRST (1ll << 40)
#define SL_TXN_NODE_SPAN (1ll << 27)
/* After a failed append or offset commit of a completion, try again. */
#define SL_TXN_RETRY_MS 1000

/* Bounds, each answered with a Kafka error where it is reached:
 *   SL_TXN_IDS_MAX transactional ids: InitProducerId of a new one gets
 *     POLICY_VIOLATION (44), which clients report rather than retry (as
 *     the group coordinator's limits, groups.h); a slot comes back when an
 *     id expires;
 *   SL_TXN_PARTITIONS_MAX partitions, SL_TXN_GROUPS_MAX groups and
 *     SL_TXN_OFFSETS_MAX pending offsets in one transaction: the request
 *     that would go past them gets POLICY_VIOLATION for what it adds;
 *   a transactional id longer than SL_TXNLOG_ID_MAX: INVALID_REQUEST (42);
 *     a group id empty or longer than SL_TXNLOG_GROUP_MAX: INVALID_GROUP_ID
 *     (24); a topic empty or longer than SL_TXNLOG_TOPIC_MAX, a negative
 *     partition: UNKNOWN_TOPIC_OR_PARTITION (3); metadata longer than
 *     SL_TXNLOG_META_MAX: OFFSET_METADATA_TOO_LARGE (12);
 *   a response longer than SL_TXN_MAX_RESPONSE: ListTransactions lists
 *     what fits; the other APIs are refused (-EMSGSIZE below). */
#define SL_TXN_IDS_MAX 1024
#define SL_TXN_PARTITIONS_MAX 2048
#define SL_TXN_GROUPS_MAX 16
#define SL_TXN_OFFSETS_MAX 2048
#define SL_TXN_MAX_RESPONSE 60000

/* Kafka error codes of the transaction APIs. */
enum sl_txn_error {
	SL_TXN_ERR_COORDINATOR_NOT_AVAILABLE = 15,
	SL_TXN_ERR_NOT_COORDINATOR = 16,
	SL_TXN_ERR_INVALID_GROUP_ID = 24,
	SL_TXN_ERR_INVALID_PRODUCER_EPOCH = 47,
	SL_TXN_ERR_INVALID_TXN_STATE = 48,
	SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING = 49,
	SL_TXN_ERR_INVALID_TRANSACTION_TIMEOUT = 50,
	SL_TXN_ERR_CONCURRENT_TRANSACTIONS = 51,
	SL_TXN_ERR_OPERATION_NOT_ATTEMPTED = 55,
	SL_TXN_ERR_UNSTABLE_OFFSET_COMMIT = 88,
	SL_TXN_ERR_PRODUCER_FENCED = 90,
	SL_TXN_ERR_TRANSACTIONAL_ID_NOT_FOUND = 105,
	SL_TXN_ERR_TRANSACTION_ABORTABLE = 120,
};

struct sl_txn;
struct sl_clock;

/* Where a cluster's transaction state records go (sl_txn_config sink):
 * begin, add each record of a batch, end: 0 (taken) or a negative errno
 * (none of it taken). */
struct sl_txn_sink {
	void (*begin)(void *ctx);
	void (*add)(void *ctx, const struct sl_txnlog_rec *r);
	int (*end)(void *ctx);
	void *ctx;
};
struct sdisk;
struct sl_groups;

/* One partition of a transaction (pointers valid during the call). */
struct sl_txn_partition {
	const char *topic;
	uint16_t topic_len;
	int32_t partition;
};

/* The markers of one transaction to write (WriteTxnMarkers): every
 * partition gets a control batch of producer_id / producer_epoch saying
 * commit or abort.  The callee copies what it keeps. */
struct sl_txn_markers {
	uint64_t id;                  /* hand back to sl_txn_markers_done */
	int64_t producer_id;
	int16_t producer_epoch;
	bool commit;
	int32_t coordinator_epoch;
	uint32_t n;
	const struct sl_txn_partition *partitions;
	const char *txn_id;           /* the transactional id */
	uint16_t txn_id_len;
};
typedef void (*sl_txn_markers_fn)(void *ctx, const struct sl_txn_markers *m);

/* Whether a topic partition exists (AddPartitionsToTxn answers
 * UNKNOWN_TOPIC_OR_PARTITION otherwise, as Kafka). */
typedef bool (*sl_txn_exists_fn)(void *ctx, const char *topic, size_t len,
				 int32_t partition);

struct sl_txn_config {
	int32_t timeout_max_ms;       /* 0: SL_TXN_TIMEOUT_MAX_MS */
	int64_t id_expiration_ms;     /* 0: SL_TXN_ID_EXPIRATION_MS */
	const struct sl_clock *clock; /* wall_ms; NULL: the system clock */
	const struct sdisk *disk;     /* NULL: sdisk_posix */
	/* committed offsets go here; NULL: TxnOffsetCommit is answered
	 * COORDINATOR_NOT_AVAILABLE (15) */
	struct sl_groups *groups;
	/* the marker writer (control/markers.h); NULL: markers are taken
	 * as written at once (tests of the state machine alone) */
	sl_txn_markers_fn markers;
	void *markers_ctx;
	/* a job handed that nobody waits for any more (sl_txn_unload: the
	 * partition of its id is another coordinator's now); NULL: none */
	void (*markers_cancel)(void *markers_ctx, uint64_t id);
	sl_txn_exists_fn exists;      /* NULL: every partition exists */
	void *exists_ctx;
	/* in a cluster, whether this broker coordinates the transactional
	 * id (len bytes), with coordinates_ctx: 0 when it does, else the
	 * error an id of another broker's (NOT_COORDINATOR, 16) or of a
	 * partition still loading (COORDINATOR_LOAD_IN_PROGRESS, 14) is
	 * answered, by InitProducerId, AddOffsetsToTxn and EndTxn as a
	 * whole, AddPartitionsToTxn and DescribeTransactions per
	 * transaction; NULL: every id is this broker's */
	int16_t (*coordinates)(void *coordinates_ctx, const char *id,
			       size_t len);
	/* in a cluster, the coordinator epoch of an id this broker
	 * coordinates (the leader epoch of its __transaction_state
	 * partition here): every marker of the id carries it, so that a
	 * partition refuses the markers of a coordinator that has lost the
	 * id to a newer one (TRANSACTION_COORDINATOR_FENCED); NULL: 0 */
	int32_t (*coordinator_epoch)(void *coordinates_ctx, const char *id,
				     size_t len);
	void *coordinates_ctx;
	/* in a cluster, where the state's records go (control/tstore.h:
	 * __transaction_state) instead of the file: every record but
	 * PRODUCER_IDS, which stays in the file (this broker's range of
	 * producer ids); the file's other records are not read.  The sink's
	 * end takes the batch (durable later: answers and markers wait for
	 * it, the sink's business) or fails it (nothing applied here) */
	const struct sl_txn_sink *sink;
	/* in a cluster, this broker's node id (its producer id range, see
	 * SL_TXN_NODE_SPAN); 0: one broker, every id from
	 * SL_TXN_PRODUCER_ID_FIRST up */
	int32_t node_id;
	/* in a cluster, the partition of __consumer_offsets a group's
	 * offsets go to (-1: not known yet), with offsets_ctx:
	 * AddOffsetsToTxn adds that partition to the transaction, so its
	 * marker tells the group's coordinator (control/gtxn.h) how the
	 * transaction ended, and TxnOffsetCommit is the coordinator's, not
	 * this module's; NULL: one broker, the offsets held here */
	int32_t (*offsets_partition)(void *offsets_ctx, const char *group,
				     size_t len);
	void *offsets_ctx;
};

/* A response for the request given token: the whole Kafka response
 * (header included, no size prefix), valid only during the call. */
typedef void (*sl_txn_reply_fn)(void *ctx, uint64_t token,
				const uint8_t *resp, size_t len);

/*
 * Open (creating dir if needed, durably) and load dir/txn.log; hand the
 * markers of every PrepareCommit / PrepareAbort transaction to the
 * markers callback (their offsets applied first).  Returns 0 and *out, or
 * -errno with err holding one line a person can act on, naming the file:
 * -ENOMEM, an I/O error, -EBADMSG (not a transaction log: left alone),
 * -EOVERFLOW (more ids or partitions than the limits above).
 */
int sl_txn_open(const char *dir, const struct sl_txn_config *cfg,
		sl_txn_reply_fn reply, void *ctx, int64_t now_ms,
		struct sl_txn **out, char *err, size_t errlen);

/* Close the file and free everything.  NULL is allowed. */
void sl_txn_close(struct sl_txn *t);

/* Whether key is one of the APIs above (InitProducerId included: sluiced
 * forwards it only with a transactional id). */
bool sl_txn_serves(int16_t key);

/*
 * One whole Kafka request (no size prefix) of an API above.  Timeouts due
 * run first.  Every request is answered through reply() before this
 * returns.  A malformed body is answered INVALID_REQUEST in the API's
 * response.  Returns 0, or without a reply: -EINVAL (shorter than a
 * header, not one of these APIs, a version not served, or a malformed
 * AddPartitionsToTxn or TxnOffsetCommit, whose answers have no field for
 * it), -EMSGSIZE (an answer longer than SL_TXN_MAX_RESPONSE; nothing was
 * changed), -ENOMEM.  The caller closes the client's connection.
 */
int sl_txn_request(struct sl_txn *t, uint64_t token, const uint8_t *req,
		   size_t len, int64_t now_ms);

/* Run what is due (timeouts, expiry, retries); returns the ms until the
 * next deadline, or -1 when there is none. */
int sl_txn_tick(struct sl_txn *t, int64_t now_ms);

/* The markers of job id are all written: the transaction completes.  An
 * id that is no longer current (the job was handed again) is ignored. */
void sl_txn_markers_done(struct sl_txn *t, uint64_t id, int64_t now_ms);

/* A cluster's loads (control/tstore.h), the ids matching match(ctx, id,
 * len) being those of one partition of __transaction_state:
 *   sl_txn_load_record: one record read back (its arg: t; the records of
 *     ttopic.h's decode, in log order), applied as the file's are at an
 *     open: 0, or -ENOMEM / -EOVERFLOW (the limits: the record is not
 *     applied, the load goes on);
 *   sl_txn_loaded: the partition is read whole: what was being ended
 *     when its last coordinator stopped ends now (markers handed again);
 *   sl_txn_unload: its ids are forgotten here (another broker
 *     coordinates them now, or the partition is loaded again). */
typedef bool (*sl_txn_match_fn)(void *ctx, const char *id, size_t len);
int sl_txn_load_record(void *t, const struct sl_txnlog_rec *r);
void sl_txn_loaded(struct sl_txn *t, sl_txn_match_fn match, void *ctx,
		   int64_t now_ms);
void sl_txn_unload(struct sl_txn *t, sl_txn_match_fn match, void *ctx);

/* Whether an open transaction (Ongoing, PrepareCommit) holds a pending
 * offset of group for (topic, partition): OffsetFetch with
 * require_stable answers UNSTABLE_OFFSET_COMMIT for it. */
bool sl_txn_offset_pending(const struct sl_txn *t, const char *group,
			   size_t group_len, const char *topic,
			   size_t topic_len, int32_t partition);

/* The number of transactional ids in each state (index: Empty 0 ..
 * CompleteAbort 5), for tests and logs. */
void sl_txn_counts(const struct sl_txn *t, uint32_t counts[6]);

#endif
