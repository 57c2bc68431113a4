/*
 * sluiced's log: one line per event on stderr,
 *
 *   2026-11-25T10:00:00.123Z sluiced: <message>
 *
 * (UTC, milliseconds), written with one write(2) so that lines from
 * several threads never interleave.  A message longer than a line (about
 * 1000 bytes) is cut.  For start-up, shutdown and rare events: the
 * dataplane's hot paths count instead of logging.
 *
 * Threading: any thread.  Never fails (a line that cannot be written is
 * dropped: there is nowhere else to say it).
 */
#ifndef SLUICE_DATAPLANE_LOG_H
#define SLUICE_DATAPLANE_LOG_H

void dp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
