/* `tern topic create|list|route`, `tern cluster`, `tern group offsets`: admin commands. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli.h"

#define NAMESRV_OPT                                                                                \
    {"namesrv", "ADDR",                                                                            \
     "name server host:port[;host:port] (default $TERN_NAMESRV or " CLI_DEFAULT_NAMESRV ")", NULL}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_queue_data(const void *a, const void *b)
{
    const struct tern_queue_data *x = a, *y = b;
    return strcmp(x->broker_name, y->broker_name);
}

static int cmp_addr(const void *a, const void *b)
{
    const struct tern_broker_addr *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static const char *perm_str(int perm)
{
    static char s[4];
    s[0] = (perm & 4) ? 'r' : '-';
    s[1] = (perm & 2) ? 'w' : '-';
    s[2] = (perm & 1) ? 'i' : '-';
    s[3] = '\0';
    return s;
}

static const char *role_of(int64_t id)
{
    return id == 0 ? "master" : "replica";
}

/* Find the broker named name in a broker array. */
static const struct tern_broker *find_broker(const struct tern_broker *b, size_t n,
                                             const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(b[i].name, name) == 0)
            return &b[i];
    return NULL;
}

/* Print one broker's addresses, one line each, in id order. */
static void print_broker_rows(const char *cluster, const struct tern_broker *b)
{
    struct tern_broker_addr *addrs = NULL;
    if (b->addr_count) {
        addrs = malloc(b->addr_count * sizeof *addrs);
        if (!addrs)
            return;
        memcpy(addrs, b->addrs, b->addr_count * sizeof *addrs);
        qsort(addrs, b->addr_count, sizeof *addrs, cmp_addr);
    }
    if (b->addr_count == 0)
        printf("%-20s %-16s %-4s %-8s %s\n", cluster, b->name, "-", "-", "(no address)");
    for (size_t i = 0; i < b->addr_count; i++)
        printf("%-20s %-16s %-4" PRId64 " %-8s %s\n", cluster, b->name, addrs[i].id,
               role_of(addrs[i].id), addrs[i].addr);
    free(addrs);
}

int cli_admin_cluster(int argc, char **argv)
{
    struct cli_opt opts[] = {NAMESRV_OPT};
    struct cli_cmd cmd = {
        "tern cluster [--namesrv ADDR]",
        "List every broker registered with the name server: cluster, broker group, member id,\n"
        "role (id 0 is the master, the member that takes writes) and address. Then, for each\n"
        "raft-replicated broker group: leader, term, commit and last index, and per member its\n"
        "role, state, applied index, match index (as the leader knows it) and lag (committed\n"
        "entries not applied yet, or not replicated yet when the member does not answer).",
        opts, sizeof opts / sizeof opts[0],
        "  tern cluster --namesrv 127.0.0.1:9876\n"};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;

    struct tern_sync *s;
    if ((rv = cli_open(&cmd, &s)))
        return rv;
    const struct tern_cluster_info *ci;
    int err = tern_sync_cluster_info(s, &ci);
    if (err) {
        rv = cli_fail("cluster info", err, tern_sync_errmsg(s));
        tern_sync_close(s);
        return rv;
    }
    printf("%-20s %-16s %-4s %-8s %s\n", "CLUSTER", "BROKER", "ID", "ROLE", "ADDRESS");

    /* Clusters in name order, their brokers in name order; then brokers no
     * cluster lists (should not happen, but never hide a broker). */
    const struct tern_cluster **cl = malloc((ci->cluster_count + 1) * sizeof *cl);
    bool *shown = calloc(ci->broker_count + 1, sizeof *shown);
    if (!cl || !shown) {
        free(cl);
        free(shown);
        tern_sync_close(s);
        return cli_fail("cluster info", TERN_E_NOMEM, NULL);
    }
    for (size_t i = 0; i < ci->cluster_count; i++)
        cl[i] = &ci->clusters[i];
    for (size_t i = 1; i < ci->cluster_count; i++)
        for (size_t j = i; j > 0 && strcmp(cl[j - 1]->name, cl[j]->name) > 0; j--) {
            const struct tern_cluster *t = cl[j];
            cl[j] = cl[j - 1];
            cl[j - 1] = t;
        }
    for (size_t i = 0; i < ci->cluster_count; i++) {
        size_t n = cl[i]->broker_count;
        const char **names = malloc((n + 1) * sizeof *names);
        if (!names)
            break;
        for (size_t j = 0; j < n; j++)
            names[j] = cl[i]->broker_names[j];
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t j = 0; j < n; j++) {
            const struct tern_broker *b = find_broker(ci->brokers, ci->broker_count, names[j]);
            if (!b) {
                printf("%-20s %-16s %-4s %-8s %s\n", cl[i]->name, names[j], "-", "-",
                       "(not registered)");
                continue;
            }
            shown[b - ci->brokers] = true;
            print_broker_rows(cl[i]->name, b);
        }
        free(names);
    }
    for (size_t i = 0; i < ci->broker_count; i++)
        if (!shown[i])
            print_broker_rows(ci->brokers[i].cluster ? ci->brokers[i].cluster : "-",
                              &ci->brokers[i]);
    free(cl);
    free(shown);
    cli_group_print_status(s, ci);
    tern_sync_close(s);
    return CLI_EXIT_OK;
}

int cli_admin_topic_list(int argc, char **argv)
{
    struct cli_opt opts[] = {NAMESRV_OPT};
    struct cli_cmd cmd = {"tern topic list [--namesrv ADDR]",
                          "Print every topic the name server knows, one per line, sorted.", opts,
                          sizeof opts / sizeof opts[0], NULL};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;
    struct tern_sync *s;
    if ((rv = cli_open(&cmd, &s)))
        return rv;
    const char *const *topics;
    size_t n;
    int err = tern_sync_topic_list(s, &topics, &n);
    if (err) {
        rv = cli_fail("topic list", err, tern_sync_errmsg(s));
        tern_sync_close(s);
        return rv;
    }
    const char **sorted = malloc((n + 1) * sizeof *sorted);
    if (!sorted) {
        tern_sync_close(s);
        return cli_fail("topic list", TERN_E_NOMEM, NULL);
    }
    memcpy(sorted, topics, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", sorted[i]);
    free(sorted);
    tern_sync_close(s);
    return CLI_EXIT_OK;
}

int cli_admin_topic_route(int argc, char **argv)
{
    struct cli_opt opts[] = {NAMESRV_OPT, {"topic", "T", "topic name (required)", NULL}};
    struct cli_cmd cmd = {"tern topic route --topic T [--namesrv ADDR]",
                          "Show which broker groups serve a topic: per broker its member "
                          "addresses, read/write\nqueue counts and permission (r read, w write, "
                          "i inherit).",
                          opts, sizeof opts / sizeof opts[0],
                          "  tern topic route --topic orders\n"};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;
    const char *topic;
    if ((rv = cli_require(&cmd, "topic", &topic)))
        return rv;
    struct tern_sync *s;
    if ((rv = cli_open(&cmd, &s)))
        return rv;
    const struct tern_route *r;
    int err = tern_sync_topic_route(s, topic, &r);
    if (err) {
        char what[300];
        snprintf(what, sizeof what, "topic route %s", topic);
        rv = cli_fail(what, err, tern_sync_errmsg(s));
        tern_sync_close(s);
        return rv;
    }
    struct tern_queue_data *q = malloc((r->queue_count + 1) * sizeof *q);
    if (!q) {
        tern_sync_close(s);
        return cli_fail("topic route", TERN_E_NOMEM, NULL);
    }
    memcpy(q, r->queues, r->queue_count * sizeof *q);
    qsort(q, r->queue_count, sizeof *q, cmp_queue_data);
    printf("%-16s %-5s %-5s %-4s %-4s %-8s %s\n", "BROKER", "READ", "WRITE", "PERM", "ID", "ROLE",
           "ADDRESS");
    for (size_t i = 0; i < r->queue_count; i++) {
        const struct tern_broker *b = find_broker(r->brokers, r->broker_count, q[i].broker_name);
        char perm[4];
        snprintf(perm, sizeof perm, "%s", perm_str(q[i].perm));
        if (!b || b->addr_count == 0) {
            printf("%-16s %-5d %-5d %-4s %-4s %-8s %s\n", q[i].broker_name, q[i].read_queues,
                   q[i].write_queues, perm, "-", "-", "(no address)");
            continue;
        }
        struct tern_broker_addr *a = malloc(b->addr_count * sizeof *a);
        if (!a)
            break;
        memcpy(a, b->addrs, b->addr_count * sizeof *a);
        qsort(a, b->addr_count, sizeof *a, cmp_addr);
        for (size_t j = 0; j < b->addr_count; j++)
            printf("%-16s %-5d %-5d %-4s %-4" PRId64 " %-8s %s\n", q[i].broker_name,
                   q[i].read_queues, q[i].write_queues, perm, a[j].id, role_of(a[j].id),
                   a[j].addr);
        free(a);
    }
    free(q);
    tern_sync_close(s);
    return CLI_EXIT_OK;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int cli_admin_topic_create(int argc, char **argv)
{
    struct cli_opt opts[] = {
        NAMESRV_OPT,
        {"topic", "T", "topic name (required): letters, digits, '_', '-', '%', '|'", NULL},
        {"queues", "N", "read and write queues per broker (default 8)", NULL},
        {"cluster", "C", "create on every master of this cluster (default: of every cluster)",
         NULL},
        {"broker", "ADDR", "create on this one broker (host:port) instead", NULL},
        {"order", NULL, "mark the topic as ordered", NULL},
        {"no-wait", NULL, "do not wait until the name server routes the topic", NULL},
    };
    struct cli_cmd cmd = {
        "tern topic create --topic T [--queues N] [--cluster C | --broker ADDR] [--namesrv ADDR]",
        "Create (or update) a topic on every master broker of a cluster, then wait until the\n"
        "name server serves its route (brokers register new topics with it), at most 15 s.",
        opts, sizeof opts / sizeof opts[0],
        "  tern topic create --topic orders --queues 8\n"
        "  tern topic create --topic audit --queues 2 --cluster DefaultCluster\n"};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;
    const char *topic;
    int64_t queues;
    if ((rv = cli_require(&cmd, "topic", &topic)) ||
        (rv = cli_get_int(&cmd, "queues", 1, 1024, 8, &queues)))
        return rv;

    struct tern_sync *s;
    if ((rv = cli_open(&cmd, &s)))
        return rv;
    struct tern_topic_opts o;
    memset(&o, 0, sizeof o);
    o.topic = topic;
    o.cluster = cli_get(&cmd, "cluster");
    o.broker_addr = cli_get(&cmd, "broker");
    o.read_queues = (int)queues;
    o.write_queues = (int)queues;
    o.perm = 6;
    o.order = cli_flag(&cmd, "order");
    char what[300];
    snprintf(what, sizeof what, "topic create %s", topic);
    int err = tern_sync_create_topic(s, &o);
    if (err) {
        rv = cli_fail(what, err, tern_sync_errmsg(s));
        tern_sync_close(s);
        return rv;
    }

    /* The brokers register the topic with the name server; a producer started
     * right after this command must find the route. */
    const struct tern_route *r = NULL;
    bool routed = false;
    if (!cli_flag(&cmd, "no-wait")) {
        uint64_t deadline = cli_now_ns() + 15ull * 1000000000ull;
        for (;;) {
            err = tern_sync_topic_route(s, topic, &r);
            if (err == 0 && r->queue_count > 0) {
                routed = true;
                for (size_t i = 0; i < r->queue_count; i++)
                    if (r->queues[i].write_queues != (int)queues)
                        routed = false;
            }
            if (routed || cli_now_ns() > deadline)
                break;
            sleep_ms(100);
        }
        if (!routed) {
            fprintf(stderr,
                    "tern: %s: created, but the name server does not route it with %" PRId64
                    " queues after 15 s\n",
                    what, queues);
            tern_sync_close(s);
            return CLI_EXIT_FAIL;
        }
        printf("created topic %s with %" PRId64 " queues on", topic, queues);
        const char **names = malloc((r->queue_count + 1) * sizeof *names);
        if (names) {
            for (size_t i = 0; i < r->queue_count; i++)
                names[i] = r->queues[i].broker_name;
            qsort(names, r->queue_count, sizeof *names, cmp_str);
            for (size_t i = 0; i < r->queue_count; i++)
                printf("%s %s", i ? "," : "", names[i]);
            free(names);
        }
        printf("\n");
    } else {
        printf("created topic %s with %" PRId64 " queues\n", topic, queues);
    }
    tern_sync_close(s);
    return CLI_EXIT_OK;
}

int cli_admin_group_offsets(int argc, char **argv)
{
    struct cli_opt opts[] = {NAMESRV_OPT, {"group", "G", "consumer group (required)", NULL},
                             {"topic", "T", "topic (required)", NULL}};
    struct cli_cmd cmd = {
        "tern group offsets --group G --topic T [--namesrv ADDR]",
        "Per queue of the topic: the group's committed offset (next message it will consume;\n"
        "'-' if it never committed), the queue's max offset (next offset to be written) and\n"
        "the lag (max - committed, or max - min without a commit). The last line sums them.",
        opts, sizeof opts / sizeof opts[0], "  tern group offsets --group g1 --topic orders\n"};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;
    const char *group, *topic;
    if ((rv = cli_require(&cmd, "group", &group)) || (rv = cli_require(&cmd, "topic", &topic)))
        return rv;
    struct tern_sync *s;
    if ((rv = cli_open(&cmd, &s)))
        return rv;
    const struct tern_route *r;
    int err = tern_sync_topic_route(s, topic, &r);
    if (err) {
        rv = cli_fail("group offsets: topic route", err, tern_sync_errmsg(s));
        tern_sync_close(s);
        return rv;
    }
    /* Copy what we need: later sync calls invalidate r. */
    size_t nq = r->queue_count;
    struct {
        char broker[128];
        char addr[128];
        int queues;
    } *qs = calloc(nq + 1, sizeof *qs);
    if (!qs) {
        tern_sync_close(s);
        return cli_fail("group offsets", TERN_E_NOMEM, NULL);
    }
    for (size_t i = 0; i < nq; i++) {
        const char *addr = cli_route_master(r, r->queues[i].broker_name);
        snprintf(qs[i].broker, sizeof qs[i].broker, "%s", r->queues[i].broker_name);
        snprintf(qs[i].addr, sizeof qs[i].addr, "%s", addr ? addr : "");
        qs[i].queues = r->queues[i].read_queues;
    }
    /* Sort by broker name (insertion sort: a handful of brokers). */
    for (size_t i = 1; i < nq; i++)
        for (size_t j = i; j > 0 && strcmp(qs[j - 1].broker, qs[j].broker) > 0; j--) {
            char t[sizeof *qs];
            memcpy(t, &qs[j], sizeof *qs);
            memcpy(&qs[j], &qs[j - 1], sizeof *qs);
            memcpy(&qs[j - 1], t, sizeof *qs);
        }
    /* Committed offsets through a raw query that tells "never committed"
     * from 0 (cli_rpc.c); the library's query is the fallback. */
    struct cli_rpc *raw = NULL;
    if (cli_rpc_open(s, &raw) != 0)
        raw = NULL;

    printf("%-16s %-6s %-12s %-12s %s\n", "BROKER", "QUEUE", "COMMITTED", "MAX", "LAG");
    int64_t tot_committed = 0, tot_max = 0, tot_lag = 0;
    rv = CLI_EXIT_OK;
    for (size_t i = 0; i < nq && rv == CLI_EXIT_OK; i++) {
        for (int q = 0; q < qs[i].queues; q++) {
            int64_t committed = -1, maxo = 0, mino = 0;
            err = tern_sync_max_offset(s, topic, qs[i].broker, q, &maxo);
            if (err) {
                rv = cli_fail("group offsets: max offset", err, tern_sync_errmsg(s));
                break;
            }
            char detail[TERN_ERRMSG_SIZE] = "";
            err = TERN_E_INVAL;
            if (raw && qs[i].addr[0])
                err = cli_rpc_committed_offset(raw, qs[i].addr, group, topic, q, &committed,
                                               detail);
            if (err != 0 && err != TERN_E_NOTFOUND)
                err = tern_sync_committed_offset(s, group, topic, qs[i].broker, q, &committed);
            if (err == TERN_E_NOTFOUND) {
                committed = -1;
            } else if (err) {
                rv = cli_fail("group offsets: committed offset", err, tern_sync_errmsg(s));
                break;
            }
            if (committed < 0) {
                err = tern_sync_min_offset(s, topic, qs[i].broker, q, &mino);
                if (err)
                    mino = 0;
            }
            int64_t lag = committed >= 0 ? maxo - committed : maxo - mino;
            if (lag < 0)
                lag = 0;
            char cbuf[24];
            if (committed >= 0)
                snprintf(cbuf, sizeof cbuf, "%" PRId64, committed);
            else
                snprintf(cbuf, sizeof cbuf, "-");
            printf("%-16s %-6d %-12s %-12" PRId64 " %" PRId64 "\n", qs[i].broker, q, cbuf, maxo,
                   lag);
            if (committed > 0)
                tot_committed += committed;
            tot_max += maxo;
            tot_lag += lag;
        }
    }
    if (rv == CLI_EXIT_OK)
        printf("%-16s %-6s %-12" PRId64 " %-12" PRId64 " %" PRId64 "\n", "TOTAL", "-",
               tot_committed, tot_max, tot_lag);
    free(qs);
    cli_rpc_close(raw);
    tern_sync_close(s);
    return rv;
}

/* ---- tern query ------------------------------------------------------------------- */

/* Distinct broker names of a route, copied (later sync calls invalidate r). */
static size_t route_brokers(const struct tern_route *r, char (*names)[128], size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < r->queue_count && n < cap; i++) {
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcmp(names[j], r->queues[i].broker_name) == 0;
        if (!seen)
            snprintf(names[n++], 128, "%s", r->queues[i].broker_name);
    }
    return n;
}

static void print_query_msg(const struct tern_msg *m, bool json)
{
    size_t len;
    const char *body = tern_msg_body(m, &len);
    if (!json) {
        printf("%-16s %-5d %-10" PRId64 " %-13" PRId64 " %-32s %-20s %.*s\n", tern_msg_broker_name(m),
               tern_msg_queue_id(m), tern_msg_queue_offset(m), tern_msg_store_timestamp(m), tern_msg_id(m),
               tern_msg_keys(m), (int)(len > 60 ? 60 : len), body ? body : "");
        return;
    }
    const char *s;
    fputs("{\"topic\":", stdout);
    s = tern_msg_topic(m);
    cli_json_str(stdout, s, strlen(s));
    fputs(",\"brokerName\":", stdout);
    s = tern_msg_broker_name(m);
    cli_json_str(stdout, s, strlen(s));
    printf(",\"queueId\":%d,\"queueOffset\":%" PRId64 ",\"msgId\":", tern_msg_queue_id(m),
           tern_msg_queue_offset(m));
    s = tern_msg_id(m);
    cli_json_str(stdout, s, strlen(s));
    fputs(",\"offsetMsgId\":", stdout);
    s = tern_msg_offset_id(m);
    cli_json_str(stdout, s, strlen(s));
    fputs(",\"keys\":", stdout);
    s = tern_msg_keys(m);
    cli_json_str(stdout, s, strlen(s));
    fputs(",\"tags\":", stdout);
    s = tern_msg_tags(m);
    cli_json_str(stdout, s, strlen(s));
    printf(",\"storeTimestamp\":%" PRId64 ",\"body\":", tern_msg_store_timestamp(m));
    cli_json_str(stdout, body ? body : "", body ? len : 0);
    fputs("}\n", stdout);
}

#define CLI_QUERY_MAX_BROKERS 64

/* QUERY_MESSAGE on every broker of topic's route; prints and counts. */
static int query_topic(struct tern_sync *s, const char *topic, const char *key, bool unique, int max,
                       int64_t begin, int64_t end, bool json, int *found)
{
    const struct tern_route *r;
    int err = tern_sync_topic_route(s, topic, &r);
    if (err)
        return err;
    char names[CLI_QUERY_MAX_BROKERS][128];
    size_t nb = route_brokers(r, names, CLI_QUERY_MAX_BROKERS);
    for (size_t i = 0; i < nb && *found < max; i++) {
        const struct tern_pull_result *res;
        err = tern_sync_query_message(s, topic, names[i], key, unique, max - *found, begin, end, &res);
        if (err)
            return err;
        for (size_t j = 0; j < res->n && *found < max; j++, (*found)++)
            print_query_msg(res->msgs[j], json);
    }
    return 0;
}

int cli_admin_query(int argc, char **argv)
{
    struct cli_opt opts[] = {NAMESRV_OPT,
                             {"key", "K", "a KEYS token to look for", NULL},
                             {"id", "MSGID", "a message id (UNIQ_KEY, or an offsetMsgId) to look for", NULL},
                             {"topic", "T", "topic (default: every topic the name server knows)", NULL},
                             {"max", "N", "at most N messages (default 32)", NULL},
                             {"begin", "EPOCH_MS", "stored at or after this time (default 0)", NULL},
                             {"end", "EPOCH_MS", "stored at or before this time (default: no bound)", NULL},
                             {"format", "FMT", "text (a table, default) or json (one object per line)", NULL}};
    struct cli_cmd cmd = {
        "tern query (--key K | --id UNIQ_KEY) [--topic T] [--max N] [--begin MS] [--end MS] "
        "[--format text|json] [--namesrv ADDR]",
        "Find messages by business key (a token of their KEYS) or by message id (UNIQ_KEY)\n"
        "with QUERY_MESSAGE on every broker of the topic, or of every topic without --topic.\n"
        "An --id that no broker knows as a UNIQ_KEY is tried as an offsetMsgId\n"
        "(VIEW_MESSAGE_BY_ID at the broker it names).\n"
        "Exits 1 if nothing matched.",
        opts, sizeof opts / sizeof opts[0],
        "  tern query --topic orders --key order-1\n  tern query --id 7F0000010B2A18B4AAC27C6F5E3A0000 --format json\n"};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;
    const char *key = cli_get(&cmd, "key"), *id = cli_get(&cmd, "id"), *topic = cli_get(&cmd, "topic");
    const char *fmt = cli_get(&cmd, "format");
    if ((key == NULL) == (id == NULL) || (key && !*key) || (id && !*id)) {
        fprintf(stderr, "tern: query: give exactly one of --key and --id\n");
        return CLI_EXIT_USAGE;
    }
    if (fmt && strcmp(fmt, "text") != 0 && strcmp(fmt, "json") != 0) {
        fprintf(stderr, "tern: query: --format wants text or json, got '%s'\n", fmt);
        return CLI_EXIT_USAGE;
    }
    bool json = fmt && strcmp(fmt, "json") == 0;
    int64_t max, begin, end;
    if ((rv = cli_get_int(&cmd, "max", 1, 1024, 32, &max)) ||
        (rv = cli_get_int(&cmd, "begin", 0, INT64_MAX, 0, &begin)) ||
        (rv = cli_get_int(&cmd, "end", 0, INT64_MAX, 0, &end)))
        return rv;
    struct tern_sync *s;
    if ((rv = cli_open(&cmd, &s)))
        return rv;
    if (!json)
        printf("%-16s %-5s %-10s %-13s %-32s %-20s %s\n", "BROKER", "QUEUE", "OFFSET", "STORED", "MSGID", "KEYS",
               "BODY");
    int found = 0, err = 0;
    const char *what = key ? key : id;
    if (topic) {
        err = query_topic(s, topic, what, id != NULL, (int)max, begin, end, json, &found);
    } else {
        const char *const *topics;
        size_t nt;
        err = tern_sync_topic_list(s, &topics, &nt);
        char **copy = err ? NULL : calloc(nt + 1, sizeof *copy);
        for (size_t i = 0; copy && i < nt; i++)
            copy[i] = strdup(topics[i]);
        for (size_t i = 0; copy && i < nt && found < max; i++) {
            /* Topics without a route (deleted, not yet registered) are skipped. */
            if (copy[i] && query_topic(s, copy[i], what, id != NULL, (int)max, begin, end, json, &found) != 0)
                continue;
        }
        for (size_t i = 0; copy && i < nt; i++)
            free(copy[i]);
        free(copy);
    }
    if (!err && found == 0 && id) {
        /* Not a UNIQ_KEY anywhere: maybe an offsetMsgId (store address +
         * physical offset), as RocketMQ's queryMsgById also accepts. */
        const struct tern_pull_result *res;
        if (tern_sync_view_message(s, id, &res) == 0 && res->n == 1) {
            print_query_msg(res->msgs[0], json);
            found = 1;
        }
    }
    if (err) {
        rv = cli_fail("query", err, tern_sync_errmsg(s));
        tern_sync_close(s);
        return rv;
    }
    tern_sync_close(s);
    if (found == 0) {
        fprintf(stderr, "tern: query: no message with %s '%s'\n", key ? "key" : "id", what);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* ---- tern group reset-offset ------------------------------------------------------ */

int cli_admin_group_reset_offset(int argc, char **argv)
{
    struct cli_opt opts[] = {NAMESRV_OPT,
                             {"group", "G", "consumer group (required)", NULL},
                             {"topic", "T", "topic (required)", NULL},
                             {"to-time", "EPOCH_MS", "first message stored at or after this time", NULL},
                             {"to-offset", "WHERE", "earliest or latest", NULL},
                             {"no-force", NULL, "only move offsets back, never forward", NULL}};
    struct cli_cmd cmd = {
        "tern group reset-offset --group G --topic T (--to-time EPOCH_MS | --to-offset earliest|latest) "
        "[--no-force] [--namesrv ADDR]",
        "Move a consumer group's committed offsets of a topic, on every broker, to the first\n"
        "message stored at or after a time (or to the start or end of each queue). Running\n"
        "consumers of the group are told and continue from there without a restart.",
        opts, sizeof opts / sizeof opts[0],
        "  tern group reset-offset --group g1 --topic orders --to-time 1763798400000\n"
        "  tern group reset-offset --group g1 --topic orders --to-offset earliest\n"};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;
    const char *group, *topic;
    if ((rv = cli_require(&cmd, "group", &group)) || (rv = cli_require(&cmd, "topic", &topic)))
        return rv;
    const char *to_time = cli_get(&cmd, "to-time"), *to_off = cli_get(&cmd, "to-offset");
    int64_t ts = 0;
    if ((to_time == NULL) == (to_off == NULL)) {
        fprintf(stderr, "tern: group reset-offset: give exactly one of --to-time and --to-offset\n");
        return CLI_EXIT_USAGE;
    }
    if (to_time) {
        if ((rv = cli_get_int(&cmd, "to-time", 0, INT64_MAX, 0, &ts)))
            return rv;
    } else if (strcmp(to_off, "earliest") == 0) {
        ts = 0; /* the first message stored at or after 0: the queue's start */
    } else if (strcmp(to_off, "latest") == 0) {
        ts = -1; /* RocketMQ: -1 means the max offset */
    } else {
        fprintf(stderr, "tern: group reset-offset: --to-offset wants earliest or latest, got '%s'\n", to_off);
        return CLI_EXIT_USAGE;
    }
    struct tern_sync *s;
    if ((rv = cli_open(&cmd, &s)))
        return rv;
    const struct tern_route *r;
    int err = tern_sync_topic_route(s, topic, &r);
    char names[CLI_QUERY_MAX_BROKERS][128];
    size_t nb = err ? 0 : route_brokers(r, names, CLI_QUERY_MAX_BROKERS);
    for (size_t i = 0; i < nb && !err; i++) {
        /* A broker group between leaders answers SERVICE_NOT_AVAILABLE,
         * a dead leader does not answer: retry for up to 10 s, re-reading
         * the route (the reset is idempotent). */
        for (int attempt = 0; attempt < 20; attempt++) {
            err = tern_sync_reset_offset(s, group, topic, names[i], ts, !cli_flag(&cmd, "no-force"));
            if (!(err == TERN_E_SERVICE_NOT_AVAILABLE || err == TERN_E_TIMEOUT || err == TERN_E_CLOSED ||
                  err == TERN_E_CONNECT || err == TERN_E_NOTLEADER))
                break;
            sleep_ms(500);
            tern_sync_topic_route(s, topic, &r);
        }
        if (!err)
            printf("%-16s reset\n", names[i]);
    }
    if (err) {
        rv = cli_fail("group reset-offset", err, tern_sync_errmsg(s));
        tern_sync_close(s);
        return rv;
    }
    tern_sync_close(s);
    return CLI_EXIT_OK;
}
