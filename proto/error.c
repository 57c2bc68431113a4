/*
 * sl_strerror(): the one table of sluice error messages (see
 * include/sluice/error.h), falling back to strerror() for -errno.
 */
#include <string.h>

#include "sluice/error.h"

const char *sl_strerror(int rc)
{
	switch (rc) {
#define SL_ERROR_CASE(name, value, msg) \
	case name:                       \
		return msg;
		SL_ERRORS(SL_ERROR_CASE)
#undef SL_ERROR_CASE
	case 0:
		return "success";
	default:
		break;
	}
	if (rc < 0 && rc > -4096)
		return strerror(-rc);
	return "unknown error";
}
