/*
 * The connection layer (conn.h): connections, answer order, flow control,
 * flushing, chained answers.  Net core thread only.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/conn.h"

#define CONN_SLOT_MASK ((1u << 20) - 1) /* drivers/driver.h: slot bits */

/*
 * A chained answer (dp_chain_build): sent as pieces, in order: resp up to
 * the first hole, owner 0's records, resp up to the next hole, ...  Each
 * records piece is its owner's own driver buffer (released: the owner is
 * freed); each piece of resp holds a reference on the chain, and the last
 * reference frees the chain and the message.
 */
struct dp_chain_piece {
	struct drv_buf b;
	struct dp_chain *ch;
};
struct dp_chain {
	struct dp_msg *m;
	uint32_t refs;          /* pieces of resp out, + 1 while sending */
	uint32_t nseq;
	int sent;               /* handed to the driver */
	struct drv_buf **seq;   /* all pieces in order */
	struct dp_msg **owners; /* the records pieces' owners */
	uint32_t nowners;
	struct dp_chain_piece *hdr;
};

int dp_conns_init(struct dp_net *n, uint32_t max)
{
	/* ids carry the slot in their low 20 bits */
	if (max == 0 || max > CONN_SLOT_MASK + 1)
		max = CONN_SLOT_MASK + 1;
	n->conns = calloc(max, sizeof(*n->conns));
	if (!n->conns)
		return -ENOMEM;
	n->nconns = max;
	return 0;
}

void dp_conns_fini(struct dp_net *n)
{
	free(n->conns);
	n->conns = NULL;
	n->nconns = 0;
}

struct dp_conn *dp_conn_of(struct dp_net *n, uint32_t id)
{
	uint32_t slot = id & CONN_SLOT_MASK;
	if (slot >= n->nconns)
		return NULL;
	struct dp_conn *c = &n->conns[slot];
	return c->used && c->id == id ? c : NULL;
}

static void msg_release(struct drv_buf *b)
{
	dp_msg_free((struct dp_msg *)b); /* out is a dp_msg's first member */
}

/* Free a message that was never sent, with its chain. */
static void msg_drop(struct dp_msg *m)
{
	struct dp_chain *ch = m->chain;
	if (ch) {
		/* never sent: the owners were not handed to the driver */
		for (uint32_t i = 0; !ch->sent && i < ch->nowners; i++)
			dp_msg_free(ch->owners[i]);
		free(ch);
		m->chain = NULL;
	}
	dp_msg_free(m);
}

/* What c is owed: queued in the driver plus reserved for fetches. */
static uint64_t conn_owed(struct dp_net *n, const struct dp_conn *c)
{
	return n->drv_ops->conn_unsent(n->drv, c->id) + c->reserved;
}

int dp_conn_room(struct dp_net *n, struct dp_conn *c)
{
	int window = c->next_seq - c->send_seq < DP_CONN_WINDOW;
	int owed = conn_owed(n, c) < n->dp->cfg.conn_max_unsent_bytes;
	if (window && owed)
		return 1;
	if (!c->paused) {
		if (!owed)
			n->st.conn_paused_unsent++;
		else
			n->st.conn_paused++;
		n->drv_ops->conn_pause(n->drv, c->id);
	}
	c->paused = 1;
	return 0;
}

void dp_conn_reserve(struct dp_conn *c, struct dp_msg *m, uint64_t bytes)
{
	if (bytes > UINT32_MAX)
		bytes = UINT32_MAX;
	m->reserved = (uint32_t)bytes;
	c->reserved += bytes;
}

/* Read a paused connection again once its window has room and what it is
 * owed fell to half the cap (hysteresis: no pause per send completion). */
static void conn_maybe_resume(struct dp_net *n, struct dp_conn *c)
{
	if (!c->paused || c->next_seq - c->send_seq >= DP_CONN_WINDOW ||
	    conn_owed(n, c) > n->dp->cfg.conn_max_unsent_bytes / 2)
		return;
	c->paused = 0;
	n->drv_ops->conn_resume(n->drv, c->id);
}

static void chain_unref(struct dp_chain *ch)
{
	assert(ch->refs > 0);
	if (--ch->refs)
		return;
	struct dp_msg *m = ch->m;
	m->chain = NULL;
	free(ch);
	dp_msg_free(m);
}

static void piece_release(struct drv_buf *b)
{
	chain_unref(((struct dp_chain_piece *)(void *)b)->ch);
}

static void chain_send(struct dp_net *n, uint32_t conn, struct dp_msg *m)
{
	struct dp_chain *ch = m->chain;
	ch->sent = 1;
	ch->refs++; /* ours: a piece released at once (connection gone)
		       must not free the chain under this loop */
	for (uint32_t i = 0; i < ch->nseq; i++)
		n->drv_ops->conn_send(n->drv, conn, ch->seq[i]);
	chain_unref(ch);
}

int dp_chain_build(struct dp_msg *m, size_t head, const size_t *at,
		   const size_t *len, struct dp_msg *const *owners,
		   const uint8_t *const *recs, uint32_t n)
{
	size_t bytes = sizeof(struct dp_chain) +
		       (2 * (size_t)n + 1) * sizeof(struct drv_buf *) +
		       n * sizeof(struct dp_msg *) +
		       ((size_t)n + 1) * sizeof(struct dp_chain_piece);
	struct dp_chain *ch = calloc(1, bytes);
	if (!ch)
		return -ENOMEM;
	ch->m = m;
	ch->seq = (struct drv_buf **)(ch + 1);
	ch->owners = (struct dp_msg **)(ch->seq + 2 * (size_t)n + 1);
	ch->hdr = (struct dp_chain_piece *)(ch->owners + n);
	size_t from = 0;
	for (uint32_t i = 0; i <= n; i++) {
		size_t to = i < n ? head + at[i] : m->resp_len;
		assert(to >= from && to <= m->resp_len);
		if (to > from) {
			struct dp_chain_piece *pc = &ch->hdr[i];
			pc->b.data = m->resp + from;
			pc->b.len = (uint32_t)(to - from);
			pc->b.release = piece_release;
			pc->ch = ch;
			ch->seq[ch->nseq++] = &pc->b;
			ch->refs++;
		}
		from = to;
		if (i == n)
			break;
		struct dp_msg *s = owners[i];
		s->owner = NULL;
		s->out.data = (uint8_t *)recs[i];
		s->out.len = (uint32_t)len[i];
		s->out.release = msg_release;
		s->out.off = 0;
		ch->seq[ch->nseq++] = &s->out;
		ch->owners[ch->nowners++] = s;
	}
	m->chain = ch;
	return 0;
}

void dp_conn_flush(struct dp_net *n, struct dp_conn *c)
{
	for (unsigned i = 0; i < DP_CONN_WINDOW; i++) {
		struct dp_msg **slot = &c->window[c->send_seq % DP_CONN_WINDOW];
		struct dp_msg *m = *slot;
		if (!m || m->seq != c->send_seq)
			break;
		*slot = NULL;
		c->send_seq++;
		/* from now on the driver counts these bytes as unsent */
		assert(m->reserved <= c->reserved);
		c->reserved -= m->reserved;
		m->reserved = 0;
		if (m->close_after)
			c->poisoned = 1; /* closed once this one is out */
		if (m->chain) {
			chain_send(n, c->id, m); /* in pieces */
			continue;
		}
		m->out.data = m->resp;
		m->out.len = m->resp_len;
		m->out.release = msg_release;
		if (m->resp_len)
			n->drv_ops->conn_send(n->drv, c->id, &m->out);
		else
			dp_msg_free(m);
	}
	if (c->poisoned && c->send_seq == c->next_seq) {
		n->drv_ops->conn_close(n->drv, c->id, 0);
		return;
	}
	conn_maybe_resume(n, c);
}

void dp_conn_poison(struct dp_net *n, struct dp_conn *c)
{
	c->poisoned = 1;
	dp_conn_flush(n, c);
}

void dp_conn_abort(struct dp_net *n, uint32_t id)
{
	n->drv_ops->conn_close(n->drv, id, 1);
}

void dp_conn_deliver(struct dp_net *n, struct dp_msg *m)
{
	assert(m->net == n);
	if (m->udp) {
		/* a datagram's reply: never longer than the request */
		if (m->resp_len && m->resp_len <= m->udp_req_bytes)
			n->drv_ops->udp_send(n->drv, &m->peer, m->resp,
					     m->resp_len);
		else if (m->resp_len)
			n->st.udp_reply_limited++;
		msg_drop(m);
		return;
	}
	struct dp_conn *c = dp_conn_of(n, m->conn);
	if (!c || m->no_seq) {
		msg_drop(m); /* the connection went away, or no answer due */
		return;
	}
	/* the window holds DP_CONN_WINDOW answers in sequence order, and
	 * no sequence number is taken twice */
	assert(m->seq - c->send_seq < DP_CONN_WINDOW);
	assert(!c->window[m->seq % DP_CONN_WINDOW]);
	c->window[m->seq % DP_CONN_WINDOW] = m;
	dp_conn_flush(n, c);
}

struct dp_msg *dp_conn_msg(struct dp_net *n, uint32_t conn,
			   const struct drv_peer *peer, uint32_t udp_bytes,
			   uint32_t corr, size_t data)
{
	struct dp_msg *m = dp_msg_alloc(n->dp, data);
	if (!m) {
		n->st.budget_exhausted++;
		return NULL;
	}
	m->net = n;
	m->conn = conn;
	m->corr = corr;
	if (peer) {
		m->udp = 1;
		m->peer = *peer;
		m->udp_req_bytes = udp_bytes;
	} else {
		struct dp_conn *c = dp_conn_of(n, conn);
		assert(c);
		m->seq = c->next_seq++;
	}
	return m;
}

void dp_conn_unseq(struct dp_net *n, struct dp_msg *m)
{
	struct dp_conn *c = m->udp ? NULL : dp_conn_of(n, m->conn);
	if (c) {
		assert(m->seq == c->next_seq - 1);
		c->next_seq--;
	}
	m->no_seq = 1;
}

int dp_conn_opened(struct dp_net *n, uint32_t id,
		   const struct dp_frontend *fe)
{
	uint32_t slot = id & CONN_SLOT_MASK;
	if (slot >= n->nconns || !fe)
		return -EBUSY;
	struct dp_conn *c = &n->conns[slot];
	if (c->used)
		return -EBUSY;
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->used = 1;
	c->fe = fe;
	return 0;
}

void dp_conn_sent(struct dp_net *n, uint32_t id)
{
	struct dp_conn *c = dp_conn_of(n, id);
	if (c)
		conn_maybe_resume(n, c);
}

void dp_conn_closed(struct dp_net *n, uint32_t id)
{
	struct dp_conn *c = dp_conn_of(n, id);
	if (!c)
		return;
	for (unsigned i = 0; i < DP_CONN_WINDOW; i++)
		if (c->window[i]) {
			msg_drop(c->window[i]);
			c->window[i] = NULL;
		}
	c->used = 0;
}
