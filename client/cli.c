/* `tern`: the command-line tool (kcat / mqadmin habits) on top of libtern. */
#include "client/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/log.h"

#define CLI_VERSION "0.1.0"

int cli_fail(const char *what, int err, const char *detail)
{
    if (detail && *detail)
        fprintf(stderr, "tern: %s: %s (%s)\n", what, detail, tern_err_name(err));
    else
        fprintf(stderr, "tern: %s: %s (%s)\n", what, tern_strerror(err), tern_err_name(err));
    return CLI_EXIT_FAIL;
}

uint64_t cli_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void cli_help(const struct cli_cmd *cmd, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s\n\noptions:\n", cmd->usage, cmd->summary);
    for (size_t i = 0; i < cmd->nopts; i++) {
        const struct cli_opt *o = &cmd->opts[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-24s %s\n", left, o->help);
    }
    fprintf(out, "  %-24s %s\n", "-h, --help", "show this help");
    if (cmd->examples)
        fprintf(out, "\nexamples:\n%s", cmd->examples);
}

static struct cli_opt *find_opt(struct cli_cmd *cmd, const char *name, size_t n)
{
    for (size_t i = 0; i < cmd->nopts; i++)
        if (strlen(cmd->opts[i].name) == n && strncmp(cmd->opts[i].name, name, n) == 0)
            return &cmd->opts[i];
    return NULL;
}

int cli_parse(struct cli_cmd *cmd, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_help(cmd, stdout);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "tern: unexpected argument '%s'\n(see %s --help)\n", a, cmd->usage);
            return CLI_EXIT_USAGE;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        struct cli_opt *o = find_opt(cmd, name, n);
        if (!o) {
            fprintf(stderr, "tern: unknown option '--%.*s'\n(see %s --help)\n", (int)n, name,
                    cmd->usage);
            return CLI_EXIT_USAGE;
        }
        if (!o->arg) {
            if (eq) {
                fprintf(stderr, "tern: --%s takes no value\n", o->name);
                return CLI_EXIT_USAGE;
            }
            o->value = "1";
            continue;
        }
        if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            fprintf(stderr, "tern: --%s needs a value (%s)\n", o->name, o->arg);
            return CLI_EXIT_USAGE;
        }
    }
    return CLI_EXIT_OK;
}

const char *cli_get(const struct cli_cmd *cmd, const char *name)
{
    for (size_t i = 0; i < cmd->nopts; i++)
        if (strcmp(cmd->opts[i].name, name) == 0)
            return cmd->opts[i].value;
    return NULL;
}

bool cli_flag(const struct cli_cmd *cmd, const char *name)
{
    return cli_get(cmd, name) != NULL;
}

int cli_get_int(const struct cli_cmd *cmd, const char *name, int64_t min, int64_t max, int64_t def,
                int64_t *out)
{
    const char *v = cli_get(cmd, name);
    if (!v) {
        *out = def;
        return CLI_EXIT_OK;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    /* Sizes may carry a k/m suffix (powers of 1024). */
    if (end != v && (*end == 'k' || *end == 'K') && end[1] == '\0') {
        x *= 1024;
        end++;
    } else if (end != v && (*end == 'm' || *end == 'M') && end[1] == '\0') {
        x *= 1024 * 1024;
        end++;
    }
    if (errno || end == v || *end != '\0' || x < min || x > max) {
        fprintf(stderr, "tern: --%s: expected an integer in [%" PRId64 ", %" PRId64 "], got '%s'\n",
                name, min, max, v);
        return CLI_EXIT_USAGE;
    }
    *out = x;
    return CLI_EXIT_OK;
}

int cli_require(const struct cli_cmd *cmd, const char *name, const char **out)
{
    *out = cli_get(cmd, name);
    if (!*out || !**out) {
        fprintf(stderr, "tern: --%s is required (see %s --help)\n", name, cmd->usage);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

const char *cli_namesrv(const struct cli_cmd *cmd)
{
    const char *v = cli_get(cmd, "namesrv");
    if (v && *v)
        return v;
    v = getenv("TERN_NAMESRV");
    if (v && *v)
        return v;
    return CLI_DEFAULT_NAMESRV;
}

int cli_open(const struct cli_cmd *cmd, struct tern_sync **out)
{
    struct tern_client_opts o;
    char err[TERN_ERRMSG_SIZE] = "";
    tern_client_opts_init(&o);
    o.namesrv_addr = cli_namesrv(cmd);
    o.instance_name = NULL;
    o.access_key = getenv("TERN_ACCESS_KEY");
    o.secret_key = getenv("TERN_SECRET_KEY");
    int rv = tern_sync_open(&o, out, err);
    if (rv)
        return cli_fail("open client", rv, err);
    return CLI_EXIT_OK;
}

const char *cli_route_master(const struct tern_route *r, const char *broker_name)
{
    for (size_t i = 0; i < r->broker_count; i++) {
        const struct tern_broker *b = &r->brokers[i];
        if (strcmp(b->name, broker_name) != 0)
            continue;
        const struct tern_broker_addr *best = NULL;
        for (size_t j = 0; j < b->addr_count; j++)
            if (!best || b->addrs[j].id < best->id)
                best = &b->addrs[j];
        return best ? best->addr : NULL;
    }
    return NULL;
}

/* UTF-8 sequence length at p (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void cli_json_str(FILE *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    putc('"', out);
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            putc('\\', out);
            putc(c, out);
            i++;
        } else if (c == '\n') {
            fputs("\\n", out);
            i++;
        } else if (c == '\r') {
            fputs("\\r", out);
            i++;
        } else if (c == '\t') {
            fputs("\\t", out);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(out, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            putc(c, out);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len == 0) {
                fprintf(out, "\\u%04x", c);
                i++;
            } else {
                fwrite(p + i, 1, len, out);
                i += len;
            }
        }
    }
    putc('"', out);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tern <command> [options]      (tern <command> --help for details)\n"
            "\n"
            "Tern's command-line tool: administer a Tern (or RocketMQ) cluster, produce and\n"
            "consume messages. Every command talks to the name server given with\n"
            "--namesrv HOST:PORT, else $TERN_NAMESRV, else " CLI_DEFAULT_NAMESRV ".\n"
            "\n"
            "commands:\n"
            "  cluster                      brokers, groups, roles and addresses\n"
            "  topic create                 create a topic on every broker of a cluster\n"
            "  topic list                   all topics the name server knows\n"
            "  topic route                  brokers and queues of a topic\n"
            "  produce                      send stdin lines, or --count generated messages\n"
            "  consume                      receive messages with a consumer group\n"
            "  group offsets                committed offset and lag per queue\n"
            "  group reset-offset           move a group's offsets to a time; live consumers follow\n"
            "  query                        find messages by key or message id\n"
            "  group transfer-leader        move a broker group's raft leadership\n"
            "  group add-replica            add a raft member to a broker group\n"
            "  group remove-replica         remove a raft member from a broker group\n"
            "  version                      print the version\n"
            "\n"
            "environment: TERN_NAMESRV (name server), TERN_LOG=debug|info|warn|error (library\n"
            "log level on stderr, default warn)\n"
            "exit status: 0 success, 1 failure (detail on stderr), 2 usage error\n");
}

static int group_usage(const char *group, FILE *out)
{
    if (strcmp(group, "topic") == 0)
        fprintf(out, "usage: tern topic create|list|route [options]   (tern topic <cmd> --help)\n");
    else
        fprintf(out, "usage: tern group offsets|reset-offset|transfer-leader|add-replica|"
                     "remove-replica [options]   (tern group <cmd> --help)\n");
    return out == stdout ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* The library logs its routine events at info; a command-line tool shows
 * warnings and errors unless $TERN_LOG asks for more. (No public API sets
 * the library's log level yet, so this reaches into libtern_core.) */
static void set_log_level(void)
{
    const char *v = getenv("TERN_LOG");
    enum log_level l = LOG_WARN;
    if (v && strcmp(v, "debug") == 0)
        l = LOG_DEBUG;
    else if (v && strcmp(v, "info") == 0)
        l = LOG_INFO;
    else if (v && strcmp(v, "error") == 0)
        l = LOG_ERROR;
    log_set_level(l);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    set_log_level();
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *c = argv[1];
    if (strcmp(c, "-h") == 0 || strcmp(c, "--help") == 0 || strcmp(c, "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(c, "version") == 0 || strcmp(c, "--version") == 0) {
        printf("tern %s\n", CLI_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(c, "cluster") == 0)
        return cli_admin_cluster(argc - 2, argv + 2);
    if (strcmp(c, "produce") == 0)
        return cli_produce_main(argc - 2, argv + 2);
    if (strcmp(c, "consume") == 0)
        return cli_consume_main(argc - 2, argv + 2);
    if (strcmp(c, "query") == 0)
        return cli_admin_query(argc - 2, argv + 2);
    if (strcmp(c, "topic") == 0 || strcmp(c, "group") == 0) {
        const char *sub = argc > 2 ? argv[2] : NULL;
        if (!sub)
            return group_usage(c, stderr);
        if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
            return group_usage(c, stdout);
        if (strcmp(c, "topic") == 0) {
            if (strcmp(sub, "create") == 0)
                return cli_admin_topic_create(argc - 3, argv + 3);
            if (strcmp(sub, "list") == 0)
                return cli_admin_topic_list(argc - 3, argv + 3);
            if (strcmp(sub, "route") == 0)
                return cli_admin_topic_route(argc - 3, argv + 3);
        } else if (strcmp(sub, "offsets") == 0) {
            return cli_admin_group_offsets(argc - 3, argv + 3);
        } else if (strcmp(sub, "reset-offset") == 0) {
            return cli_admin_group_reset_offset(argc - 3, argv + 3);
        } else if (strcmp(sub, "transfer-leader") == 0) {
            return cli_group_transfer_leader(argc - 3, argv + 3);
        } else if (strcmp(sub, "add-replica") == 0) {
            return cli_group_add_replica(argc - 3, argv + 3);
        } else if (strcmp(sub, "remove-replica") == 0) {
            return cli_group_remove_replica(argc - 3, argv + 3);
        }
        fprintf(stderr, "tern: unknown command '%s %s'\n", c, sub);
        return group_usage(c, stderr);
    }
    fprintf(stderr, "tern: unknown command '%s'\n\n", c);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
