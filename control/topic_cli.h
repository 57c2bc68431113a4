/*
 * sluice-control's commands, run instead of the daemon:
 *
 *   topic create NAME [--partitions N] [--retention-hours H]
 *         [--retention-bytes B] [--segment-mb M]
 *         [--durability every_append|group]
 *   topic delete NAME | topic list | topic describe NAME
 *   config                  the effective configuration
 *
 * The topic commands edit the metadata store in control_dir
 * (control/metadata.h) through the same transactions as the daemon's
 * admin requests (control/admin.h), whether or not the daemon runs.
 * Process main only (prints to stdout and stderr).
 */
#ifndef SLUICE_CONTROL_TOPIC_CLI_H
#define SLUICE_CONTROL_TOPIC_CLI_H

#include <stdio.h>

struct sl_config;

/*
 * Run the command in argv[0] (argc >= 1; the arguments after the options)
 * with the configuration c.  Returns the process's exit status: 0 done;
 * 1 it failed (the store could not be opened or changed, the topic does
 * not exist or already does: one line on stderr); 2 a command line it
 * cannot read, after one line on stderr or usage(stderr) or both.
 */
int sl_topic_cli(const struct sl_config *c, int argc, char **argv,
		 void (*usage)(FILE *f));

#endif
