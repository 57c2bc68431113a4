/* TxnOffsetCommit's answer, the part both coordinators share (txnoff.h). */
#include <errno.h>

#include "control/txnoff.h"

#define ERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define ERR_OFFSET_METADATA_TOO_LARGE 12

static int32_t count_of(struct kc_array a)
{
	return a.count > 0 ? a.count : 0;
}

long sl_txnoff_answer(const struct kc_txn_offset_commit_req *q,
		      struct kc_txn_offset_commit_resp *r, struct kc_arena *a,
		      sl_txnoff_exists_fn exists, void *ctx, int32_t meta_max)
{
	int32_t nt = count_of(q->topics);
	const struct kc_txn_offset_commit_req_topic *qt = q->topics.items;
	struct kc_txn_offset_commit_resp_topic *rt =
		kc_arena_take(a, (size_t)nt, sizeof(*rt));
	if (nt && !rt)
		return -EMSGSIZE;
	long good = 0;
	for (int32_t i = 0; i < nt; i++) {
		int32_t np = count_of(qt[i].partitions);
		const struct kc_txn_offset_commit_req_partition *qp =
			qt[i].partitions.items;
		struct kc_txn_offset_commit_resp_partition *rp =
			kc_arena_take(a, (size_t)np, sizeof(*rp));
		if (np && !rp)
			return -EMSGSIZE;
		rt[i].name = qt[i].name;
		rt[i].partitions = (struct kc_array){rp, np};
		for (int32_t j = 0; j < np; j++) {
			rp[j].partition_index = qp[j].partition_index;
			rp[j].error_code = 0;
			if (!exists(ctx, qt[i].name, qp[j].partition_index))
				rp[j].error_code =
					ERR_UNKNOWN_TOPIC_OR_PARTITION;
			else if (qp[j].committed_metadata.len > meta_max)
				rp[j].error_code =
					ERR_OFFSET_METADATA_TOO_LARGE;
			else
				good++;
		}
	}
	r->topics = (struct kc_array){rt, nt};
	return good;
}

void sl_txnoff_fail(struct kc_txn_offset_commit_resp *r, int16_t err)
{
	struct kc_txn_offset_commit_resp_topic *rt = (void *)r->topics.items;
	for (int32_t i = 0; err && i < r->topics.count; i++) {
		struct kc_txn_offset_commit_resp_partition *rp =
			(void *)rt[i].partitions.items;
		for (int32_t j = 0; j < rt[i].partitions.count; j++)
			if (rp[j].error_code == 0)
				rp[j].error_code = err;
	}
}
