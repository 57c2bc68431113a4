/*
 * The Kafka topic admin APIs at their lowest and highest versions against
 * the real broker (suite 'integration', tests/lib/broker.h), the fields of
 * the answers checked:
 *   - CreateTopics v0 (name and code) and v7 (partitions, replication
 *     factor, the topic's configs, its topic id as Metadata v12 gives it);
 *   - DeleteTopics v0 (by name) and v6 (by id; an unknown id is
 *     UNKNOWN_TOPIC_ID);
 *   - DescribeConfigs v0 (is_default) and v4 (sources, synonyms, types,
 *     documentation) of a topic and of the broker;
 *   - AlterConfigs v0 and v2 (the whole set replaced), IncrementalAlterConfigs
 *     v0 and v1 (SET, DELETE, APPEND, SUBTRACT), each seen by
 *     DescribeConfigs; broker configs refused as Kafka refuses configs it
 *     cannot change dynamically.
 * Exit 77 when binaries are missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "kwire.h"
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"
#include "proto/topic_uuid.h"
#include "sluice/sluice.h"

static struct tb b;
static int fd = -1;

static bool str_is(struct kc_str s, const char *z)
{
	return s.len == (int32_t)strlen(z) && !memcmp(s.ptr, z, (size_t)s.len);
}

static struct kc_str S(const char *s)
{
	return s ? (struct kc_str){ s, (int32_t)strlen(s) }
		 : (struct kc_str){ NULL, -1 };
}


static const struct kc_create_topics_resp_topic *
create(int16_t v, const char *name, int32_t parts, const char *k1,
       const char *v1, union kc_response *u)
{
	struct kc_create_topics_req_config cf = { S(k1), S(v1) };
	struct kc_create_topics_req_topic t = { S(name), parts, -1, { NULL, 0 },
						 { &cf, k1 ? 1 : 0 } };
	struct kc_create_topics_req q = { { &t, 1 }, 10000, false };
	if (kw_call(fd, KC_API_CREATE_TOPICS, v, &q, u))
		return NULL;
	const struct kc_create_topics_resp *r = (const void *)u->raw;
	if (r->topics.count != 1)
		return NULL;
	return r->topics.items;
}

/* The topic id Metadata v12 gives name (all zeros when it has none). */
static int metadata_id(const char *name, struct kc_uuid *id)
{
	union kc_response u;
	struct kc_metadata_req_topic t = { { { 0 } }, S(name) };
	struct kc_metadata_req q = { { &t, 1 }, false, false, false };
	CHECK(kw_call(fd, KC_API_METADATA, 12, &q, &u) == 0);
	const struct kc_metadata_resp *r = (const void *)u.raw;
	CHECK(r->topics.count == 1);
	const struct kc_metadata_topic *mt = r->topics.items;
	memset(id, 0, sizeof(*id));
	if (mt->error_code == 0)
		*id = mt->topic_id;
	return 0;
}

static const struct kc_create_topics_resp_config *
cfg_of(const struct kc_create_topics_resp_topic *t, const char *name)
{
	const struct kc_create_topics_resp_config *c = t->configs.items;
	for (int32_t i = 0; i < t->configs.count; i++)
		if (str_is(c[i].name, name))
			return &c[i];
	return NULL;
}

static int t_create_topics(void)
{
	union kc_response u;
	const struct kc_create_topics_resp_topic *t =
		create(0, "ct0", 2, NULL, NULL, &u);
	CHECK(t && str_is(t->name, "ct0") && t->error_code == 0);
	t = create(0, "ct0", 2, NULL, NULL, &u);
	CHECK(t && t->error_code == SN_ERR_TOPIC_ALREADY_EXISTS);

	t = create(7, "ct7", 3, "retention.ms", "120000", &u);
	CHECK(t && str_is(t->name, "ct7") && t->error_code == 0);
	CHECK(t->error_message.len == -1);
	CHECK(t->num_partitions == 3 && t->replication_factor == 1);
	CHECK(t->configs.count == 12);
	const struct kc_create_topics_resp_config *c = cfg_of(t, "retention.ms");
	CHECK(c && str_is(c->value, "120000") && !c->read_only);
	CHECK(c->config_source == KC_CONFIG_SOURCE_TOPIC && !c->is_sensitive);
	c = cfg_of(t, "cleanup.policy");
	CHECK(c && str_is(c->value, "delete"));
	CHECK(c->config_source == KC_CONFIG_SOURCE_DEFAULT);
	c = cfg_of(t, "compression.type");
	CHECK(c && c->read_only);
	struct kc_uuid made = t->topic_id, seen;
	CHECK(metadata_id("ct7", &seen) == 0);
	CHECK(memcmp(made.b, seen.b, 16) == 0);
	CHECK(sl_topic_uuid_id(made.b) != 0);
	t = create(7, "ct7", 3, NULL, NULL, &u);
	CHECK(t && t->error_code == SN_ERR_TOPIC_ALREADY_EXISTS);
	CHECK(t->error_message.len > 0 && t->num_partitions == -1);
	t = create(7, "bad7", 1, "retention.ms", "soon", &u);
	CHECK(t && t->error_code == 40 /* INVALID_CONFIG */);
	return 0;
}

static int t_delete_topics(void)
{
	union kc_response u;
	CHECK(create(7, "del0", 1, NULL, NULL, &u) != NULL);
	struct kc_str names[2] = { S("del0"), S("nonesuch") };
	struct kc_delete_topics_req q = { { NULL, 0 }, { names, 2 }, 5000 };
	CHECK(kw_call(fd, KC_API_DELETE_TOPICS, 0, &q, &u) == 0);
	const struct kc_delete_topics_resp *r = (const void *)u.raw;
	CHECK(r->responses.count == 2);
	const struct kc_delete_topics_resp_topic *o = r->responses.items;
	CHECK(str_is(o[0].name, "del0") && o[0].error_code == 0);
	CHECK(str_is(o[1].name, "nonesuch"));
	CHECK(o[1].error_code == SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);

	const struct kc_create_topics_resp_topic *t =
		create(7, "del6", 1, NULL, NULL, &u);
	CHECK(t && t->error_code == 0);
	struct kc_uuid id = t->topic_id, other = id;
	other.b[15] ^= 0x5a;
	struct kc_delete_topics_req_topic tv[2] = { { S(NULL), id },
						    { S(NULL), other } };
	struct kc_delete_topics_req q6 = { { tv, 2 }, { NULL, 0 }, 5000 };
	CHECK(kw_call(fd, KC_API_DELETE_TOPICS, 6, &q6, &u) == 0);
	r = (const void *)u.raw;
	CHECK(r->responses.count == 2);
	o = r->responses.items;
	CHECK(str_is(o[0].name, "del6") && o[0].error_code == 0);
	CHECK(memcmp(o[0].topic_id.b, id.b, 16) == 0);
	CHECK(o[1].name.len == -1 && o[1].error_code == 100);
	CHECK(memcmp(o[1].topic_id.b, other.b, 16) == 0);
	struct kc_uuid gone;
	CHECK(metadata_id("del6", &gone) == 0);
	static const struct kc_uuid zero;
	CHECK(memcmp(gone.b, zero.b, 16) == 0);
	return 0;
}

static const struct kc_describe_configs_entry *
entry_of(const struct kc_describe_configs_result *o, const char *name)
{
	const struct kc_describe_configs_entry *e = o->configs.items;
	for (int32_t i = 0; i < o->configs.count; i++)
		if (str_is(e[i].name, name))
			return &e[i];
	return NULL;
}

static const struct kc_describe_configs_result *
describe(int16_t v, int8_t type, const char *name, bool synonyms,
	 union kc_response *u)
{
	struct kc_describe_configs_resource res = { type, S(name),
						    { NULL, -1 } };
	struct kc_describe_configs_req q = { { &res, 1 }, synonyms, true };
	if (kw_call(fd, KC_API_DESCRIBE_CONFIGS, v, &q, u))
		return NULL;
	const struct kc_describe_configs_resp *r = (const void *)u->raw;
	return r->results.count == 1 ? r->results.items : NULL;
}

static int t_describe_configs(void)
{
	union kc_response u;
	CHECK(create(4, "dc", 1, "segment.bytes", "2097152", &u) != NULL);
	const struct kc_describe_configs_result *o =
		describe(0, KC_RESOURCE_TOPIC, "dc", false, &u);
	CHECK(o && o->error_code == 0 && o->resource_type == KC_RESOURCE_TOPIC);
	CHECK(str_is(o->resource_name, "dc") && o->configs.count == 12);
	const struct kc_describe_configs_entry *e = entry_of(o, "segment.bytes");
	CHECK(e && str_is(e->value, "2097152") && !e->is_default);
	e = entry_of(o, "retention.bytes");
	CHECK(e && str_is(e->value, "-1") && e->is_default && !e->read_only);

	o = describe(4, KC_RESOURCE_TOPIC, "dc", true, &u);
	CHECK(o && o->error_code == 0 && o->configs.count == 12);
	e = entry_of(o, "segment.bytes");
	CHECK(e && str_is(e->value, "2097152"));
	CHECK(e->config_source == KC_CONFIG_SOURCE_TOPIC);
	CHECK(e->config_type == 3 /* INT */ && e->documentation.len > 0);
	CHECK(e->synonyms.count == 2);
	const struct kc_describe_configs_synonym *y = e->synonyms.items;
	CHECK(str_is(y[0].name, "segment.bytes") && str_is(y[0].value, "2097152"));
	CHECK(y[0].source == KC_CONFIG_SOURCE_TOPIC);
	CHECK(str_is(y[1].name, "log.segment.bytes"));
	CHECK(y[1].source == KC_CONFIG_SOURCE_STATIC_BROKER);
	e = entry_of(o, "cleanup.policy");
	CHECK(e && str_is(e->value, "delete") && e->config_type == 7);
	CHECK(e->config_source == KC_CONFIG_SOURCE_DEFAULT);
	CHECK(e->synonyms.count == 1);
	y = e->synonyms.items;
	CHECK(str_is(y[0].name, "log.cleanup.policy"));
	CHECK(y[0].source == KC_CONFIG_SOURCE_DEFAULT);

	o = describe(4, KC_RESOURCE_BROKER, "1", true, &u);
	CHECK(o && o->error_code == 0);
	e = entry_of(o, "broker.id");
	CHECK(e && str_is(e->value, "1") && e->read_only);
	CHECK(e->config_source == KC_CONFIG_SOURCE_STATIC_BROKER);
	CHECK(e->synonyms.count == 1);
	o = describe(4, KC_RESOURCE_TOPIC, "nope", false, &u);
	CHECK(o && o->error_code == SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CHECK(o->error_message.len > 0);
	return 0;
}

static const struct kc_alter_configs_resp_resource_response *
alter(int16_t key, int16_t v, int8_t type, const char *name,
      const void *configs, int32_t n, union kc_response *u)
{
	struct kc_alter_configs_req_resource res = { type, S(name),
						     { (void *)configs, n } };
	struct kc_alter_configs_req q = { { &res, 1 }, false };
	if (kw_call(fd, key, v, &q, u))
		return NULL;
	const struct kc_alter_configs_resp *r = (const void *)u->raw;
	if (r->responses.count != 1)
		return NULL;
	const struct kc_alter_configs_resp_resource_response *o =
		r->responses.items;
	if (o->resource_type != type || !str_is(o->resource_name, name))
		return NULL;
	return o;
}

static int t_alter_configs(void)
{
	union kc_response u, d;
	CHECK(create(7, "ac", 1, "retention.ms", "100000", &u) != NULL);
	struct kc_alter_configs_req_alterable_config c[1] = {
		{ S("retention.bytes"), S("3000000") } };
	const struct kc_alter_configs_resp_resource_response *o =
		alter(KC_API_ALTER_CONFIGS, 0, KC_RESOURCE_TOPIC, "ac", c, 1, &u);
	CHECK(o && o->error_code == 0 && o->error_message.len == -1);
	const struct kc_describe_configs_result *r =
		describe(4, KC_RESOURCE_TOPIC, "ac", false, &d);
	CHECK(r && str_is(entry_of(r, "retention.bytes")->value, "3000000"));
	/* not listed: back to the default */
	CHECK(str_is(entry_of(r, "retention.ms")->value, "604800000"));
	CHECK(entry_of(r, "retention.ms")->config_source ==
	      KC_CONFIG_SOURCE_DEFAULT);
	c[0] = (struct kc_alter_configs_req_alterable_config){
		S("cleanup.policy"), S("compact,delete") };
	o = alter(KC_API_ALTER_CONFIGS, 2, KC_RESOURCE_TOPIC, "ac", c, 1, &u);
	CHECK(o && o->error_code == 0);
	r = describe(0, KC_RESOURCE_TOPIC, "ac", false, &d);
	CHECK(r && str_is(entry_of(r, "cleanup.policy")->value,
			  "compact,delete"));
	CHECK(str_is(entry_of(r, "retention.bytes")->value, "-1"));
	c[0] = (struct kc_alter_configs_req_alterable_config){
		S("retention.ms"), S("x") };
	o = alter(KC_API_ALTER_CONFIGS, 2, KC_RESOURCE_TOPIC, "ac", c, 1, &u);
	CHECK(o && o->error_code == 40 && o->error_message.len > 0);
	o = alter(KC_API_ALTER_CONFIGS, 2, KC_RESOURCE_TOPIC, "nosuch", c, 0, &u);
	CHECK(o && o->error_code == SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	c[0] = (struct kc_alter_configs_req_alterable_config){
		S("log.retention.ms"), S("1000") };
	o = alter(KC_API_ALTER_CONFIGS, 2, KC_RESOURCE_BROKER, "1", c, 1, &u);
	CHECK(o && o->error_code == SN_ERR_INVALID_REQUEST);
	CHECK(str_is(o->error_message, "Cannot update these configs "
		     "dynamically: Set(log.retention.ms)"));
	return 0;
}

static int t_incremental_alter_configs(void)
{
	union kc_response u, d;
	CHECK(create(7, "iac", 1, "retention.ms", "100000", &u) != NULL);
	struct kc_incremental_alter_configs_req_alterable_config c[2] = {
		{ S("retention.bytes"), 0 /* SET */, S("4000000") },
		{ S("cleanup.policy"), 2 /* APPEND */, S("compact") } };
	const struct kc_alter_configs_resp_resource_response *o =
		alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 0, KC_RESOURCE_TOPIC,
		      "iac", c, 2, &u);
	CHECK(o && o->error_code == 0 && o->error_message.len == -1);
	const struct kc_describe_configs_result *r =
		describe(4, KC_RESOURCE_TOPIC, "iac", false, &d);
	CHECK(r && str_is(entry_of(r, "retention.bytes")->value, "4000000"));
	CHECK(str_is(entry_of(r, "retention.ms")->value, "100000")); /* kept */
	CHECK(str_is(entry_of(r, "cleanup.policy")->value, "compact,delete"));
	c[0] = (struct kc_incremental_alter_configs_req_alterable_config){
		S("retention.ms"), 1 /* DELETE */, S(NULL) };
	c[1] = (struct kc_incremental_alter_configs_req_alterable_config){
		S("cleanup.policy"), 3 /* SUBTRACT */, S("delete") };
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC, "iac",
		  c, 2, &u);
	CHECK(o && o->error_code == 0);
	r = describe(4, KC_RESOURCE_TOPIC, "iac", false, &d);
	CHECK(r && str_is(entry_of(r, "retention.ms")->value, "604800000"));
	CHECK(str_is(entry_of(r, "cleanup.policy")->value, "compact"));
	c[0] = (struct kc_incremental_alter_configs_req_alterable_config){
		S("segment.bytes"), 2 /* APPEND */, S("5") };
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 1, KC_RESOURCE_TOPIC, "iac",
		  c, 1, &u);
	CHECK(o && o->error_code == 40);
	CHECK(str_is(o->error_message, "Config value append is not allowed "
		     "for config key: segment.bytes"));
	c[0] = (struct kc_incremental_alter_configs_req_alterable_config){
		S("num.partitions"), 0, S("4") };
	o = alter(KC_API_INCREMENTAL_ALTER_CONFIGS, 1, KC_RESOURCE_BROKER, "",
		  c, 1, &u);
	CHECK(o && o->error_code == SN_ERR_INVALID_REQUEST);
	CHECK(str_is(o->error_message, "Cannot update these configs "
		     "dynamically: Set(num.partitions)"));
	return 0;
}

int main(void)
{
	kw_init("admin-test");
	int rc = kw_broker_start(&b, "kadminv", &fd);
	if (rc)
		return rc;
	static const struct kw_test tests[] = {
		{ "create_topics", t_create_topics },
		{ "delete_topics", t_delete_topics },
		{ "describe_configs", t_describe_configs },
		{ "alter_configs", t_alter_configs },
		{ "incremental_alter_configs", t_incremental_alter_configs },
	};
	kw_run(&b, tests, KW_COUNT(tests), &fd);
	return kw_finish(&b, &fd);
}
