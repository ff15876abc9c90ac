/* The `tern` command-line tool: shared option parsing, output and error
 * helpers for the subcommand files (cli_admin.c, cli_produce.c,
 * cli_consume.c). Not part of libtern; it only uses the public API.
 *
 * Exit codes of every subcommand: 0 success, 1 the operation failed (detail
 * on stderr), 2 usage error. */
#ifndef TERN_CLI_H
#define TERN_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tern/tern.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

#define CLI_DEFAULT_NAMESRV "127.0.0.1:9876"

/* One --option of a subcommand. arg NULL: a flag without value. */
struct cli_opt {
    const char *name; /* without the leading "--" */
    const char *arg;  /* metavariable shown in help ("N"), NULL for flags */
    const char *help;
    const char *value; /* parsed value (flags: "1"), NULL if absent */
};

/* A subcommand's description for parsing and --help. */
struct cli_cmd {
    const char *usage;   /* "tern topic create [options]" */
    const char *summary; /* one paragraph */
    struct cli_opt *opts;
    size_t nopts;
    const char *examples; /* may be NULL */
};

/* Parse argv (after the subcommand words) into cmd->opts. Accepts
 * "--name value" and "--name=value". Returns CLI_EXIT_OK, or -1 after
 * printing --help to stdout (the caller exits 0), or CLI_EXIT_USAGE after
 * printing the problem to stderr. Positional arguments are refused. */
int cli_parse(struct cli_cmd *cmd, int argc, char **argv);
void cli_help(const struct cli_cmd *cmd, FILE *out);

/* The value of option name (NULL if absent). name must be in the table. */
const char *cli_get(const struct cli_cmd *cmd, const char *name);
bool cli_flag(const struct cli_cmd *cmd, const char *name);
/* Parse an integer option in [min, max]; absent: *out = def. Prints the
 * problem and returns CLI_EXIT_USAGE on a bad value. */
int cli_get_int(const struct cli_cmd *cmd, const char *name, int64_t min, int64_t max, int64_t def,
                int64_t *out);
/* Same for a required option: prints "--name is required" if absent. */
int cli_require(const struct cli_cmd *cmd, const char *name, const char **out);

/* --namesrv value, else $TERN_NAMESRV, else CLI_DEFAULT_NAMESRV. */
const char *cli_namesrv(const struct cli_cmd *cmd);

/* Open a blocking client on the name server; prints the failure. */
int cli_open(const struct cli_cmd *cmd, struct tern_sync **out);

/* "tern: <what>: <detail> (<ERR_NAME>)" on stderr; returns CLI_EXIT_FAIL. */
int cli_fail(const char *what, int err, const char *detail);

/* Monotonic time. */
uint64_t cli_now_ns(void);

/* Write s (n bytes) as a JSON string literal, quotes included. Bytes that
 * are not valid UTF-8 are written as \u00XX of their value. */
void cli_json_str(FILE *out, const char *s, size_t n);

/* Raw requests libtern lacks (cli_rpc.c), on the blocking client's loop. */
struct cli_rpc;
int cli_rpc_open(struct tern_sync *s, struct cli_rpc **out);
void cli_rpc_close(struct cli_rpc *r);
/* QUERY_CONSUMER_OFFSET with setZeroIfNotFound=false: 0 with *offset, or
 * TERN_E_NOTFOUND if the group never committed on that queue, or another
 * error with errmsg (TERN_ERRMSG_SIZE bytes). */
int cli_rpc_committed_offset(struct cli_rpc *r, const char *broker_addr, const char *group,
                             const char *topic, int queue_id, int64_t *offset, char *errmsg);

/* Send cmd (built by the caller) to addr and wait up to timeout_ms for the
 * answer; fn sees the response (valid only during the call). Returns 0 once
 * fn ran, else TERN_E_* with errmsg (connect failure, timeout). */
struct remoting_cmd;
typedef void (*cli_rpc_resp_fn)(void *arg, const struct remoting_cmd *resp);
int cli_rpc_request(struct cli_rpc *r, const char *addr, struct remoting_cmd *cmd, int timeout_ms,
                    cli_rpc_resp_fn fn, void *arg, char *errmsg);

/* Master (id 0, else lowest id) address of broker_name in a route, or NULL. */
const char *cli_route_master(const struct tern_route *r, const char *broker_name);

/* Subcommands (argc/argv start after the subcommand words). */
int cli_admin_topic_create(int argc, char **argv);
int cli_admin_topic_list(int argc, char **argv);
int cli_admin_topic_route(int argc, char **argv);
int cli_admin_cluster(int argc, char **argv);
int cli_admin_group_offsets(int argc, char **argv);
int cli_admin_group_reset_offset(int argc, char **argv);
int cli_admin_query(int argc, char **argv);
int cli_group_transfer_leader(int argc, char **argv);
int cli_group_add_replica(int argc, char **argv);
int cli_group_remove_replica(int argc, char **argv);
/* `tern cluster`'s raft section: ask every broker in ci for its raft status
 * (TERN_GROUP_STATUS) and print leader, term, commit index and per member
 * applied/match index and lag. Brokers that do not answer it are skipped. */
void cli_group_print_status(struct tern_sync *s, const struct tern_cluster_info *ci);
int cli_produce_main(int argc, char **argv);
int cli_consume_main(int argc, char **argv);

#endif
