/*
 * The sluice CLI: shared pieces of its commands.
 */
#ifndef SLUICE_TOOLS_CLI_H
#define SLUICE_TOOLS_CLI_H

#include "sluice/sluice.h"

/* -b host:port, or NULL for 127.0.0.1:9093 */
extern const char *cli_broker;

/* Print "sluice: <what>: <sentence>" with a hint for rc; returns 1. */
int cli_fail(const char *what, int rc);
/* Connect an admin client or print why not (returns NULL). */
struct sl_client *cli_connect(void);
/* Parse "0", "1", "all"/"-1".  Returns 0 or -1. */
int cli_parse_acks(const char *s, int *acks);

int cmd_topic(int argc, char **argv);
int cmd_produce(int argc, char **argv);
int cmd_consume(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_perf(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
/* request, respond */
int cmd_request_reply(int argc, char **argv);
int cmd_route(int argc, char **argv);

#endif
