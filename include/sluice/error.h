/*
 * sluice error codes.
 *
 * Every sluice function that can fail returns an int: >= 0 on success,
 * -errno for an operating-system error, or one of the negative project codes
 * below.  Project codes start at -10000 so they never collide with -errno.
 * sl_strerror() turns either kind into a sentence a person can act on.
 *
 * The codes are part of the wire protocol: their numeric values never change.
 */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

/* X(name, value, message) */
#define SL_ERRORS(X)                                                          \
	X(SL_ECORRUPT, -10001,                                                \
	  "corrupt batch: length, magic or CRC32C is wrong")                  \
	X(SL_EOFFSET, -10002, "offset out of range")                          \
	X(SL_ETOOBIG, -10003,                                                 \
	  "batch larger than the configured maximum batch size")              \
	X(SL_EMAGIC, -10004, "unsupported record batch magic (want 2)")       \
	X(SL_ECRC, -10005, "record batch CRC32C mismatch")                    \
	X(SL_ELENGTH, -10006, "record batch length field is inconsistent")    \
	X(SL_EFULL, -10007,                                                   \
	  "write buffer full: retry after completions are reaped")            \
	X(SL_ECLOSED, -10008, "log is closed or failed; reopen it")           \
	X(SL_ENOTFOUND, -10009, "no such entry")                              \
	X(SL_ECONFIG, -10010, "invalid configuration value")                  \
	X(SL_ELAYOUT, -10011,                                                 \
	  "unexpected file in a partition directory or bad file name")        \
	X(SL_EOFFSETS, -10012,                                                \
	  "record batch offsets: record count must be 1 to 2^20 and the "     \
	  "last offset delta record count - 1")                               \
	X(SL_ESEQUENCE, -10013,                                               \
	  "record batch producer id and base sequence disagree (-1 and -1, "  \
	  "or an id and a sequence >= 0)")                                    \
	X(SL_ETIMESTAMP, -10014,                                              \
	  "record batch timestamp out of range (-1 or 0 to 2^48 - 1 ms), or " \
	  "max timestamp is not the largest record timestamp")                \
	X(SL_ERECORDS, -10015,                                                \
	  "record batch records do not match the record count, offset "      \
	  "deltas or batch length")                                           \
	X(SL_EATTRIBUTES, -10016,                                             \
	  "record batch attributes refused: control batch or unknown "        \
	  "compression codec")

enum sl_error {
#define SL_ERROR_ENUM(name, value, msg) name = value,
	SL_ERRORS(SL_ERROR_ENUM)
#undef SL_ERROR_ENUM
};

/*
 * A human-readable message for rc: a project code, a -errno, or 0.
 * Never returns NULL; the string is static.  Thread-safe.
 */
const char *sl_strerror(int rc);

#endif
