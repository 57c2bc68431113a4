/*
 * The follower fetcher: dataplane/fetcher.h.  Not written yet: a cluster's
 * broker runs without following its leaders, and says so at start.
 */
#include <string.h>

#include "dataplane/dp.h"
#include "dataplane/fetcher.h"

int dp_fetcher_start(struct dp *dp)
{
	(void)dp;
	dp_log("follower fetcher: not in this build; partitions are not "
	       "replicated");
	return 0;
}

void dp_fetcher_kick(struct dp *dp)
{
	(void)dp;
}

void dp_fetcher_stop(struct dp *dp)
{
	(void)dp;
}

void dp_fetcher_stats(struct dp *dp, struct dp_fetcher_stats *out)
{
	(void)dp;
	memset(out, 0, sizeof(*out));
}
