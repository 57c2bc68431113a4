/*
 * A share partition: the queue state of one (queue group, topic,
 * partition), in the spirit of Kafka's share groups (KIP-932).  The
 * partition's log holds the messages; this holds, for a bounded window of
 * its offsets, what has become of each one:
 *
 *   AVAILABLE  may be handed out (at once, or from due_ms on: a delayed
 *              message, or one released with a back-off);
 *   ACQUIRED   handed to one consumer (owner) until due_ms, its lock
 *              deadline; the lock can be extended (RENEW);
 *   ACKED      acknowledged (ACCEPT): done;
 *   ARCHIVED   will not be handed out again: rejected, or its delivery
 *              count reached max_deliveries; a dead letter then (reason).
 *
 * The window starts at `start`, the lowest offset not yet done (every
 * offset below it is ACKED or ARCHIVED, or was never a message), and ends
 * at `end`, the next offset to read from the log; it holds at most
 * window_max entries, so memory is bounded whatever the backlog.  The
 * caller reads the log from sl_sp_end() and offers each record with its
 * attributes while sl_sp_room() says there is room.
 *
 * Handing out (sl_sp_acquire): an entry is eligible when it is AVAILABLE,
 * due, and (for an entry with a FIFO group key) no earlier entry of the
 * window with the same key is still undone, so a key has at most one
 * message in flight and its messages go out in offset order.  Among the
 * eligible, higher priority first (0-9), then lower offset; an entry that
 * has waited starve_ms or more since it became available counts as above
 * every priority, so no level starves.  Each acquisition raises the
 * entry's delivery count.  Priority reorders within the window only: a
 * message beyond window_max entries of backlog is not yet seen.
 *
 * A lock that expires (sl_sp_expire), a release (RELEASE, with an optional
 * delay) or the owner leaving (sl_sp_release_owner) makes the entry
 * AVAILABLE again, or ARCHIVED with reason SL_SP_DEAD_LIMIT once its
 * delivery count is max_deliveries; REJECT archives it with reason
 * SL_SP_DEAD_REJECTED.  An entry archived with a reason is a dead letter:
 * the window's start stays at it until the caller has copied it to its
 * dead-letter topic and said so (sl_sp_dead_pending, sl_sp_dead_copied).
 *
 * Durability: every change is put in a journal of struct sl_sp_change
 * (the persistent part of an entry: offset, state, delivery count, due
 * time), which the caller drains (sl_sp_drain) after every call that
 * changes anything and makes durable, dead letters first, before it
 * answers the call's client.  An acquisition is journaled as AVAILABLE
 * with the raised count: after a crash the lock is gone and the message
 * is handed out again, counted.  After a crash, sl_sp_recover hands back
 * the persisted changes (the last of each offset, at or above the
 * persisted start); as the caller offers the log again from start, each
 * offset takes its persisted state, so nothing acknowledged is handed out
 * again and nothing unacknowledged is lost.  An entry recovered AVAILABLE
 * with max_deliveries used is archived as a dead letter (again, if the
 * crash came between the dead letter and its state).
 *
 * Pure: no I/O and no clock of its own (now_ms is an argument).  Memory is
 * allocated at sl_sp_init only.  Single-threaded: one struct, one thread.
 */
#ifndef SLUICE_CONTROL_SHAREP_H
#define SLUICE_CONTROL_SHAREP_H

#include <stdbool.h>
#include <stdint.h>

/* Kafka's record states (ShareSnapshot / ShareUpdate's DeliveryState). */
enum sl_sp_state {
	SL_SP_AVAILABLE = 0,
	SL_SP_ACQUIRED = 1,
	SL_SP_ACKED = 2,
	SL_SP_ARCHIVED = 4,
};

/* Kafka's AcknowledgeType values (ShareFetch / ShareAcknowledge), and
 * RENEW (KIP-1222): extend the lock. */
enum sl_sp_ack {
	SL_SP_ACCEPT = 1,
	SL_SP_RELEASE = 2,
	SL_SP_REJECT = 3,
	SL_SP_RENEW = 4,
};

/* Why an entry was archived: a dead letter unless SL_SP_DEAD_NONE. */
enum sl_sp_dead {
	SL_SP_DEAD_NONE = 0,
	SL_SP_DEAD_REJECTED = 1, /* a consumer rejected it */
	SL_SP_DEAD_LIMIT = 2,    /* max_deliveries reached */
};

#define SL_SP_PRIORITY_MAX 9
#define SL_SP_WINDOW_MAX (1u << 20) /* bound of window_max */

struct sl_sp_config {
	uint32_t window_max;     /* entries in the window, 1..SL_SP_WINDOW_MAX */
	uint32_t lock_ms;        /* lock of an acquisition, > 0 */
	uint16_t max_deliveries; /* deliveries before a dead letter, > 0 */
	uint32_t starve_ms;      /* wait that outranks any priority; 0: never */
};

/* What the log's record says of itself (headers, read by the caller). */
struct sl_sp_attrs {
	uint64_t key;        /* FIFO group key (a hash); used when keyed */
	uint64_t due_ms;     /* deliver from then on; 0: at once */
	uint8_t priority;    /* 0..SL_SP_PRIORITY_MAX, higher first */
	bool keyed;          /* belongs to the FIFO group `key` */
};

struct sl_sp_entry {
	int64_t offset;
	uint64_t due_ms;     /* ACQUIRED: lock deadline; AVAILABLE: not before */
	uint64_t since_ms;   /* AVAILABLE: waiting since (priority ageing) */
	uint64_t key;
	uint32_t owner;      /* ACQUIRED: the consumer holding it */
	uint32_t jslot;      /* 1 + its slot in the journal; 0: none */
	uint16_t count;      /* deliveries so far */
	uint8_t state;       /* enum sl_sp_state */
	uint8_t priority;
	uint8_t keyed;
	uint8_t dead;        /* ARCHIVED: enum sl_sp_dead */
	uint8_t copied;      /* a dead letter: copied to its dead-letter
				topic (sl_sp_dead_copied) */
};

/* The persistent part of an entry. */
struct sl_sp_change {
	int64_t offset;
	uint64_t due_ms;     /* AVAILABLE: not before; else 0 */
	uint16_t count;
	uint8_t state;       /* AVAILABLE, ACKED or ARCHIVED */
	uint8_t dead;        /* ARCHIVED: enum sl_sp_dead */
	uint8_t copied;      /* a dead letter copied (else still to copy) */
};

struct sl_sp {
	struct sl_sp_config cfg;
	int64_t start, end;
	struct sl_sp_entry *ring;     /* offsets [start, end), ascending */
	uint32_t head, len;           /* cap: cfg.window_max */
	struct sl_sp_change *journal; /* cap: 2 * window_max */
	uint32_t jlen;
	struct sl_sp_change *known;   /* recovered, not yet offered */
	uint32_t known_head, known_len;
	uint64_t *seen;               /* acquire's set of FIFO keys */
	uint32_t *seen_gen;
	uint32_t seen_mask, gen;
	uint32_t *cand;               /* acquire's candidates (ring indexes) */
	uint32_t counts[5];           /* entries per state */
};

/* sp for a window starting at start (>= 0).  0, -EINVAL (a config value
 * out of range) or -ENOMEM. */
int sl_sp_init(struct sl_sp *sp, const struct sl_sp_config *cfg,
	       int64_t start);
void sl_sp_fini(struct sl_sp *sp);

/* After a crash, before any offer: the persisted start and changes (the
 * last one of each offset), ascending and unique offsets, at most
 * window_max of them, none below start.  0 or -EINVAL (the window is not
 * fresh, or the changes break those rules). */
int sl_sp_recover(struct sl_sp *sp, int64_t start,
		  const struct sl_sp_change *c, uint32_t n);

int64_t sl_sp_start(const struct sl_sp *sp);
/* The next offset to read from the log and offer. */
int64_t sl_sp_end(const struct sl_sp *sp);
/* How many records may be offered now (0 also while the journal waits to
 * be drained). */
uint32_t sl_sp_room(const struct sl_sp *sp);

/* The log's record at offset (>= sl_sp_end: offsets between are not
 * messages) enters the window.  0, -EINVAL (offset below end, priority
 * out of range), -ENOSPC (no room). */
int sl_sp_offer(struct sl_sp *sp, int64_t offset, const struct sl_sp_attrs *a,
		uint64_t now_ms);

/* The log has no message below offset (its start moved past them:
 * retention): every entry below it leaves the window, done or not, and
 * the window starts there at the earliest.  Returns the entries dropped
 * undone. */
uint32_t sl_sp_truncate_to(struct sl_sp *sp, int64_t offset);

/* Hand up to max eligible entries to owner, locked until now_ms + lock_ms:
 * their offsets in out, in the order they are to be delivered.  Returns
 * how many (0 also while the journal waits to be drained). */
uint32_t sl_sp_acquire(struct sl_sp *sp, uint32_t owner, uint32_t max,
		       uint64_t now_ms, int64_t *out);

/* owner's answer for the entry at offset: ACCEPT, RELEASE (AVAILABLE
 * again from now_ms + delay_ms), REJECT, or RENEW (locked until now_ms +
 * lock_ms).  0; -ENOENT (not in the window); -EPERM (not ACQUIRED, or by
 * another owner: its lock lapsed and it went on); -EINVAL (type);
 * -ENOBUFS (the journal waits to be drained). */
int sl_sp_ack(struct sl_sp *sp, int64_t offset, uint32_t owner,
	      enum sl_sp_ack type, uint64_t delay_ms, uint64_t now_ms);

/* Undo owner's acquisition of the entry at offset that was never
 * delivered (its answer had no room for it): AVAILABLE again at once,
 * its delivery count as before.  0, -ENOENT or -EPERM (as sl_sp_ack). */
int sl_sp_unacquire(struct sl_sp *sp, int64_t offset, uint32_t owner);

/* Dead letters: up to max offsets (ascending) of entries ARCHIVED with a
 * reason and not copied yet; returns how many.  Such an entry keeps the
 * window's start from passing it until sl_sp_dead_copied says its copy
 * is durable: a crash before then finds it still to copy (a dead letter
 * may be copied twice, never lost). */
uint32_t sl_sp_dead_pending(const struct sl_sp *sp, int64_t *out,
			    uint32_t max);
/* 0; -ENOENT; -EPERM (not a dead letter to copy); -ENOBUFS (drain). */
int sl_sp_dead_copied(struct sl_sp *sp, int64_t offset);

/* Locks that lapsed by now_ms released (or archived at the limit).
 * Returns how many (0 also while the journal waits to be drained). */
uint32_t sl_sp_expire(struct sl_sp *sp, uint64_t now_ms);

/* Every entry owner holds released (its consumer left).  Returns how
 * many (0 also while the journal waits to be drained). */
uint32_t sl_sp_release_owner(struct sl_sp *sp, uint32_t owner,
			     uint64_t now_ms);

/* The earliest due time of an entry that waits for one (a lock, a
 * delay), or UINT64_MAX: when to call sl_sp_expire, or to retry a poll. */
uint64_t sl_sp_next_due(const struct sl_sp *sp);

/* The entry of offset in the window, or NULL. */
const struct sl_sp_entry *sl_sp_get(const struct sl_sp *sp, int64_t offset);

/* Entries in state (enum sl_sp_state) in the window. */
uint32_t sl_sp_count(const struct sl_sp *sp, enum sl_sp_state state);

/* Move up to max journaled changes (in the order they were first made)
 * to out; returns how many.  The journal is empty when it returns less
 * than max. */
uint32_t sl_sp_drain(struct sl_sp *sp, struct sl_sp_change *out,
		     uint32_t max);

/* Every entry's persistent part that differs from a fresh one (offered
 * and not acquired yet) and every recovered change not offered yet,
 * ascending, up to max (window_max is always enough): with sl_sp_start,
 * what sl_sp_recover needs.  Returns how many. */
uint32_t sl_sp_snapshot(const struct sl_sp *sp, struct sl_sp_change *out,
			uint32_t max);

#endif
