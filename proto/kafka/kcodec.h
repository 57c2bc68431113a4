/*
 * The Kafka wire protocol: one table-driven codec for request/response
 * headers and message bodies (docs/kafka.md lists what is covered).
 *
 * A message is described by a static schema (struct kc_schema): an array of
 * field descriptors, each with a type, the versions it exists in, the
 * versions in which it may be null, its offset in a C struct and, for
 * arrays and structs, the nested schema.  kc_decode() and kc_encode() walk
 * any schema; there is no hand-written parser per API.  The tables and the C
 * structs are generated (tools/kafka_codegen.py, output in gen/) from
 * Kafka's own message definitions (messages/<Name>.json, from Kafka's
 * clients/src/main/resources/common/message), for every version Kafka
 * defines; apis.txt says which versions are served.
 *
 * Memory (the design choice): decoding fills caller-provided C structs.
 * Strings and byte fields are zero-copy (pointer + length into the input
 * buffer, never NUL-terminated, never re-encoded: a records field is an
 * opaque byte range).  Array elements are laid out in a caller-provided
 * arena (struct kc_arena: a fixed buffer and a bump index), so nothing is
 * allocated and a request costs at most the arena the caller sized.  Fixed
 * maximum array sizes were rejected: Metadata nests three levels of arrays,
 * and any fixed bound is either too small for real clusters or huge.
 * The input buffer must outlive the decoded struct.
 *
 * Flexible versions (KIP-482) switch every string, bytes and array length to
 * a compact unsigned varint (length + 1, 0 = null) and end every struct with
 * a tagged-field section.  Decoding fills the tagged fields the schema knows
 * (a tagged field not sent keeps its default) and skips the others (all are
 * optional by definition); encoding writes a tagged field only when its
 * value differs from its default.
 *
 * Errors: decoders return bytes consumed (>= 0) or a negative Kafka error
 * code from proto/native.h: -SN_ERR_INVALID_REQUEST (42) for any malformed
 * input (truncation, a negative length where the field is not nullable, a
 * count larger than the bytes left could hold, an overlong varint, trailing
 * bytes after a whole request), -SN_ERR_UNSUPPORTED_VERSION (35) for an API
 * key or version this codec does not support, and -ENOBUFS when the arena is
 * too small.  Encoders return bytes written, -ENOBUFS when cap is too small,
 * -EINVAL when the struct holds a value the version cannot carry (null in a
 * non-nullable field, a string longer than 32767 bytes).
 *
 * Pure functions: no I/O, no allocation, thread-safe (the arena is the
 * caller's, one per concurrent decode).
 */
#ifndef SLUICE_PROTO_KAFKA_KCODEC_H
#define SLUICE_PROTO_KAFKA_KCODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/native.h"

#define KC_VERSION_ANY INT16_MAX /* max_version "+"; nullable_min "never" */

/* ---- values as they appear in decoded structs ---- */

struct kc_str {
	const char *ptr; /* into the input buffer; not NUL-terminated */
	int32_t len;     /* -1: null */
};

struct kc_bytes {
	const uint8_t *ptr; /* into the input buffer (records stay opaque) */
	int32_t len;        /* -1: null */
};

struct kc_array {
	void *items;   /* count elements of the nested schema's size, in the arena */
	int32_t count; /* -1: null */
};

struct kc_uuid {
	uint8_t b[16]; /* as on the wire */
};

struct kc_arena {
	uint8_t *base; /* caller's memory, 8-byte aligned */
	size_t cap;    /* bytes */
	size_t used;   /* bytes; reset to 0 to reuse */
};

/* ---- schemas ---- */

enum kc_type {
	KC_INT8 = 1,
	KC_INT16,
	KC_INT32,
	KC_INT64,
	KC_BOOL,    /* stored as bool */
	KC_STRING,  /* stored as struct kc_str */
	KC_BYTES,   /* stored as struct kc_bytes; also Kafka's "records" */
	KC_ARRAY,   /* stored as struct kc_array; elements follow ->nested */
	KC_UINT16,
	KC_UINT32,
	KC_FLOAT64, /* stored as double */
	KC_UUID,    /* stored as struct kc_uuid */
	KC_STRUCT,  /* an embedded struct of schema ->nested; when nullable in
		       some version, a bool at present_offset says it is not
		       null */
};

struct kc_field {
	const char *name;   /* Kafka's field name, for diagnostics */
	uint8_t type;       /* enum kc_type */
	int16_t min_version;
	int16_t max_version;  /* KC_VERSION_ANY: no upper bound */
	int16_t nullable_min; /* first version in which null is allowed,
				 KC_VERSION_ANY: never */
	int16_t tagged_min;   /* first version from which the field travels
				 as tagged field `tag` (flexible versions),
				 KC_VERSION_ANY: never */
	uint32_t tag;
	uint16_t offset;      /* in the C struct */
	uint16_t present_offset; /* KC_STRUCT nullable: of its bool */
	int64_t dflt;         /* value when absent from the version (a tagged
				 field: also when not sent); float64: the
				 double's bits; strings, bytes, arrays,
				 structs: -1 null, else empty */
	const char *dflt_str; /* a string's non-empty default, else NULL */
	const struct kc_schema *nested; /* KC_ARRAY, KC_STRUCT */
};

struct kc_schema {
	const char *name;
	uint16_t size; /* of the C struct (array element size) */
	uint16_t nfields;
	const struct kc_field *fields;
	bool plain;    /* the element of "[]int32", "[]string"...: a value,
			  not a struct, so no tagged-field section follows
			  it in flexible versions */
};

/* ---- the generic codec ---- */

/* Decode one struct of schema s at version into out (s->size bytes).
 * flexible selects compact lengths and tagged-field sections.  Fields absent
 * from the version get their default (kc_field.dflt; arrays: empty).  Returns bytes consumed or a negative
 * error (see the top of this file).  Trailing bytes are left to the caller. */
long kc_decode(const struct kc_schema *s, int16_t version, bool flexible,
	       const uint8_t *buf, size_t len, void *out, struct kc_arena *a);

/* Encode in (a struct of schema s) at version.  Fields absent from the
 * version are skipped; a tagged field is written only when its value differs
 * from its default.  Returns bytes written, -ENOBUFS or -EINVAL. */
long kc_encode(const struct kc_schema *s, int16_t version, bool flexible,
	       const void *in, uint8_t *buf, size_t cap);

/* Set every field of out (a struct of schema s, nested structs included) to
 * its default, as decoding does for fields a version lacks.  A response
 * built from zeroed memory would send the tagged fields whose default is not
 * zero (e.g. an epoch of -1): start from kc_defaults() instead. */
void kc_defaults(const struct kc_schema *s, void *out);

/* The header schemas (kcodec.c): request header v1, response header v0.
 * kc_decode_request()/kc_encode_request() add the v2/v1 tagged fields. */
extern const struct kc_schema kc_request_header_schema;
extern const struct kc_schema kc_response_header_schema;

/* ---- the API table ---- */

struct kc_api {
	int16_t key;                      /* enum kc_api_key */
	const char *name;                 /* Kafka's: "Produce" */
	int16_t min_version, max_version; /* served by sluice; min > max: not
					     served (schemas only) */
	int16_t kafka_min, kafka_max;     /* Kafka's "validVersions" */
	int16_t flexible_min;             /* Kafka's first flexible version,
					     KC_VERSION_ANY: none */
	const struct kc_schema *request, *response; /* every Kafka version */
};

/* Every API of proto/kafka/apis.txt, by key (gen/kmsg.c). */
extern const struct kc_api kc_apis[];
extern const size_t kc_apis_n;

/* The served API with this key, or NULL. */
const struct kc_api *kc_api_find(int16_t key);
/* The i-th served API (for the ApiVersions response), NULL past the end. */
const struct kc_api *kc_api_at(size_t i);
/* The API with this key whether served or not (its schemas cover every
 * version Kafka defines), or NULL. */
const struct kc_api *kc_api_spec(int16_t key);

/* ---- headers ---- */

/* Request header v1 (v2 for flexible versions: + tagged fields; client_id
 * keeps its int16 length in both). */
struct kc_request_header {
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	struct kc_str client_id; /* nullable */
};

/* Response header v0 (v1 for flexible versions except ApiVersions, which
 * stays v0 per KIP-511 so that any client can read it). */
struct kc_response_header {
	int32_t correlation_id;
};

int kc_request_header_version(int16_t api_key, int16_t api_version);
int kc_response_header_version(int16_t api_key, int16_t api_version);

/* ---- message bodies ---- */

/* The C structs of every message, generated from Kafka's definitions:
 * struct kc_<api>_req / kc_<api>_resp and their nested structs, and
 * enum kc_api_key (KC_API_PRODUCE...). */
#include "proto/kafka/gen/kmsg.h"

/* Resource types (Kafka's ConfigResource.Type) and config sources. */
#define KC_RESOURCE_TOPIC 2
#define KC_RESOURCE_BROKER 4
#define KC_CONFIG_SOURCE_TOPIC 1         /* DYNAMIC_TOPIC_CONFIG */
#define KC_CONFIG_SOURCE_STATIC_BROKER 4 /* STATIC_BROKER_CONFIG */
#define KC_CONFIG_SOURCE_DEFAULT 5       /* DEFAULT_CONFIG */

/* Kafka error codes of the group APIs that proto/native.h's SN_ERRORS does
 * not name (it has the shared ones: INVALID_REQUEST, MESSAGE_TOO_LARGE,
 * UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR...). */
enum kc_group_error {
	KC_ERR_OFFSET_METADATA_TOO_LARGE = 12,
	KC_ERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
	KC_ERR_NOT_COORDINATOR = 16,
	KC_ERR_ILLEGAL_GENERATION = 22,
	KC_ERR_INCONSISTENT_GROUP_PROTOCOL = 23,
	KC_ERR_INVALID_GROUP_ID = 24,
	KC_ERR_UNKNOWN_MEMBER_ID = 25,
	KC_ERR_INVALID_SESSION_TIMEOUT = 26,
	KC_ERR_REBALANCE_IN_PROGRESS = 27,
	KC_ERR_POLICY_VIOLATION = 44,
	KC_ERR_NON_EMPTY_GROUP = 68,
	KC_ERR_GROUP_ID_NOT_FOUND = 69,
	KC_ERR_MEMBER_ID_REQUIRED = 79,
	KC_ERR_GROUP_MAX_SIZE_REACHED = 81,
};

/* Storage for any decoded top-level body: the members name the common
 * ones; every top-level body struct fits in raw (checked by a
 * _Static_assert in gen/kmsg.c). */
#define KC_BODY_MAX 512
union kc_request {
	struct kc_api_versions_req api_versions;
	struct kc_metadata_req metadata;
	struct kc_list_offsets_req list_offsets;
	uint64_t raw[KC_BODY_MAX / 8];
};
union kc_response {
	struct kc_api_versions_resp api_versions;
	struct kc_metadata_resp metadata;
	struct kc_list_offsets_resp list_offsets;
	uint64_t raw[KC_BODY_MAX / 8];
};

/* ---- whole messages (without the 4-byte size prefix, which framing owns) ---- */

/* Decode a request: header, then the body of the API and version the header
 * names, which must end exactly at len.  h is filled whenever the fixed part
 * of the header (8 bytes) was there, so an error can be answered with the
 * right correlation id.  Returns len, or -SN_ERR_UNSUPPORTED_VERSION (unknown
 * API key or version), -SN_ERR_INVALID_REQUEST, -ENOBUFS (arena). */
long kc_decode_request(const uint8_t *buf, size_t len,
		       struct kc_request_header *h, union kc_request *body,
		       struct kc_arena *a);

/* Encode header h and body (of the API and version h names). */
long kc_encode_request(const struct kc_request_header *h,
		       const union kc_request *body, uint8_t *buf, size_t cap);

/* Decode a response to (api_key, api_version): header then body, which must
 * end exactly at len. */
long kc_decode_response(int16_t api_key, int16_t api_version,
			const uint8_t *buf, size_t len,
			struct kc_response_header *h, union kc_response *body,
			struct kc_arena *a);

long kc_encode_response(int16_t api_key, int16_t api_version,
			const struct kc_response_header *h,
			const union kc_response *body, uint8_t *buf, size_t cap);

/*
 * Zero-copy bytes: a bytes field whose ptr is KC_BYTES_EXTERNAL is encoded
 * as its length only; its content is not copied, and where it belongs is
 * recorded in holes (offset in buf, in encoding order, and length).  The
 * whole message is then buf[0, at[0]) + content 0 + buf[at[0], at[1]) +
 * content 1 ... + buf[at[n-1], returned length).  The caller sends the
 * pieces (e.g. Fetch records straight from where they were read).  Without
 * holes (NULL) or when holes is full, such a field is -EINVAL.
 */
extern const uint8_t kc_bytes_external[1];
#define KC_BYTES_EXTERNAL (&kc_bytes_external[0])
struct kc_holes {
	size_t *at;  /* caller's arrays of cap entries */
	size_t *len;
	size_t n, cap;
};
long kc_encode_response_ext(int16_t api_key, int16_t api_version,
			    const struct kc_response_header *h,
			    const union kc_response *body, uint8_t *buf,
			    size_t cap, struct kc_holes *holes);

/* ---- building answers ---- */

/* n elements of size bytes from a, 8-byte aligned; NULL when n is 0 or a
 * has no room for them. */
void *kc_arena_take(struct kc_arena *a, size_t n, size_t size);

/* u as the response of API key with every field at its default, as Kafka's
 * generated classes start: a flexible version then sends only the tagged
 * fields that are set, and a nullable field never set is null. */
void kc_response_init(union kc_response *u, int16_t key);

/* Whether s (not null) holds the len bytes at p. */
bool kc_str_is(struct kc_str s, const char *p, size_t len);

#endif
