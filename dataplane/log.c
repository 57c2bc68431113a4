/*
 * sluiced's log line (log.h): timestamp, program name, message, newline,
 * assembled in a buffer on the stack and written at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/log.h"

#define DP_LOG_LINE_BYTES 1024

void dp_log(const char *fmt, ...)
{
	char line[DP_LOG_LINE_BYTES];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ sluiced: ",
		      ts.tv_nsec / 1000000);
	va_list ap;
	va_start(ap, fmt);
	/* one byte kept for the newline */
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t l = strlen(line);
	line[l] = '\n';
	if (write(2, line, l + 1) < 0) {
		/* nowhere else to say it */
	}
}
