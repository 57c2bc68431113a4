/*
 * What the schema files (schemas.c, schemas_data.c, schemas_group.c) share:
 * the table-writing macros and the schemas of arrays of plain values.
 * Private to proto/kafka/.
 */
#ifndef SLUICE_PROTO_KAFKA_SCHEMAS_PVT_H
#define SLUICE_PROTO_KAFKA_SCHEMAS_PVT_H

#include <stddef.h>

#include "proto/kafka/kcodec.h"

#define ANY KC_VERSION_ANY
#define NEVER KC_VERSION_ANY

/* F(struct, member, type, min, max, nullable_min, default, nested);
 * a string's default is -1 for Kafka's "default": "null", else empty. */
#define F(st, m, t, lo, hi, nul, d, nest) \
	{#m, t, lo, hi, nul, KC_VERSION_ANY, 0, offsetof(struct st, m), 0, d, \
	 NULL, nest}
/* Defines schema sym for struct st with fields arr (prefix static for a
 * file-local one). */
#define SCHEMA(sym, st, arr) \
	const struct kc_schema sym = {#st, sizeof(struct st), \
				      sizeof(arr) / sizeof(arr[0]), arr, false}

/* Arrays of plain values ("[]int32", "[]int64", "[]string"): one anonymous
 * field at offset 0, so the items read as int32_t, int64_t, struct kc_str,
 * and no tagged fields after each in flexible versions (Kafka tags structs,
 * not values). */
#define PLAIN_SCHEMA(sym, st, arr) \
	const struct kc_schema sym = {#st, sizeof(struct st), \
				      sizeof(arr) / sizeof(arr[0]), arr, true}
struct kc_i32 {
	int32_t v;
};
struct kc_i64 {
	int64_t v;
};
struct kc_strv {
	struct kc_str v;
};
_Static_assert(sizeof(struct kc_i32) == sizeof(int32_t), "[]int32 items");
_Static_assert(sizeof(struct kc_i64) == sizeof(int64_t), "[]int64 items");
_Static_assert(sizeof(struct kc_strv) == sizeof(struct kc_str),
	       "[]string items");
extern const struct kc_schema kc_i32_schema, kc_i64_schema, kc_str_schema;

#endif
