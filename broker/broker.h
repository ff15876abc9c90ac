/* struct broker owns the broker's subsystems: the remoting listeners, the
 * partition store, the topic table, consumer offsets, client registry,
 * suspended pulls and the name-server registrar. Each subsystem lives in its
 * own file with its own struct; handlers are plain functions that take the
 * broker, the connection and the decoded request.
 *
 * Everything runs on one libuv loop. A handler either answers before it
 * returns (rpc_send / rpc_respond_simple) or holds an rpc_reply and answers
 * from a later callback (group commit of a send, a suspended pull). */
#ifndef TERN_BROKER_H
#define TERN_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/brokerconf.h"
#include "broker/store/store.h"
#include "protocol/limits.h"
#include "protocol/message.h"
#include "protocol/msgid.h"
#include "protocol/remoting.h"
#include "rpc/rpc.h"
#include "src/buf.h"

struct topics;
struct offsets;
struct clients;
struct pullhold;
struct registrar;
struct sendmsg;
struct fsm;
struct grouprepl;
struct acl;
struct msgindex;
struct txn;
struct locktab;
struct delay;

struct broker {
    uv_loop_t *loop;
    struct brokerconf conf;
    struct limits limits;
    struct rpc_hub hub;
    struct store *store;
    struct topics *topics;
    struct offsets *offsets;
    struct clients *clients;
    struct pullhold *hold;
    struct registrar *registrar;
    struct sendmsg *sendmsg;
    struct fsm *fsm; /* replicated-command application (fsm.c) */
    struct grouprepl *repl; /* Raft group membership (grouprepl.c); NULL without */
    struct acl *acl;        /* access control (acl.c); NULL when aclEnable is off */
    struct msgindex *msgindex; /* message keys for QUERY_MESSAGE (msgindex.c) */
    struct txn *txn; /* transactional half messages (txn.c) */
    struct locktab *locks; /* orderly consumers' queue locks (locks.c) */
    int64_t locks_blind_until; /* no lock granted before this (locks.c, snapshots) */
    struct delay *delay; /* delayed messages (delay.c) */
    /* Address written into stored messages and offsetMsgIds. */
    struct msg_host store_host;
    char addr[80]; /* "brokerIP1:listenPort" as registered */
    struct msgid_gen uniq; /* UNIQ_KEYs for sends that carry none */
    /* Disk space: refreshed by a timer so sends check a cached value. */
    uv_timer_t disk_timer;
    bool disk_full;
    uint64_t disk_free;
    /* A Raft leader with a full disk hands leadership over (disk_check_cb):
     * one transfer at a time, at most one per DISK_HANDOFF_MS. */
    bool disk_handoff_pending;
    uint64_t disk_handoff_at; /* uv_now() of the last attempt, 0 never */
    /* Scratch reused by handlers on the loop thread. */
    struct remoting_cmd resp;
    struct buf body;
    struct buf arena;
    struct buf cmd; /* state-machine commands built by handlers */
    bool closing;
    int closes_pending;
    void (*on_closed)(struct broker *b);
    char errmsg[ERRMSG_SIZE];
};

/* Open the store and every subsystem, listen on port and port-2, start
 * registering with the name servers. Returns 0 or TERN_E_* with b->errmsg. */
int broker_start(struct broker *b, uv_loop_t *loop, const struct brokerconf *conf);
/* Port actually bound for listener 0 (conf port) or 1 (port-2). */
int broker_port(struct broker *b, int index);
/* Stop: unregister from name servers, stop accepting, flush the store and
 * the consumer offsets, close everything; on_closed fires at the end. */
void broker_close(struct broker *b, void (*on_closed)(struct broker *b));

struct topic;
struct topic_conf;
/* Create or update a topic through the state machine (a TOPIC command).
 * Without replication it is applied now: returns 0 with *out (may be NULL)
 * set, or TERN_E_* with b->topics->errmsg. With replication it is proposed
 * (fire and forget; *out is set to NULL): TERN_E_NOTLEADER off the leader. */
int broker_put_topic(struct broker *b, const char *name, const struct topic_conf *c, bool system,
                     struct topic **out);

/* Replication: this member just became the ready leader (create the
 * broker's own topics through the log). */
void broker_leader_ready(struct broker *b);

/* Answer req with code and remark (nothing for oneway requests). */
void broker_respond_error(struct broker *b, struct rpc_conn *rc, const struct remoting_cmd *req, int code,
                          const char *remark);
/* Send b->resp (built by the caller) with an optional body. */
void broker_respond(struct broker *b, struct rpc_conn *rc, const void *body, size_t n);

/* ---- Subsystem entry points (one file each) ---- */

/* topics.c: see topics.h. */

/* sendmsg.c: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320). */
int sendmsg_init(struct broker *b);
void sendmsg_free(struct broker *b);
void sendmsg_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);

/* sendback.c: CONSUMER_SEND_MSG_BACK (36): retries and dead letters. */
void sendback_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);

/* pull.c: PULL_MESSAGE (11), LITE_PULL_MESSAGE (361) with long polling. */
int pull_init(struct broker *b);
void pull_close(struct broker *b);
void pull_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);
/* The store's visible callback: wake pulls suspended on this partition. */
void pull_notify(struct broker *b, struct partlog *pl, uint64_t new_end);

/* offsets.c: consumer offsets and queue offset queries: QUERY_CONSUMER_OFFSET
 * (14), UPDATE_CONSUMER_OFFSET (15), GET_MAX_OFFSET (30), GET_MIN_OFFSET
 * (31), GET_EARLIEST_MSG_STORETIME (32), SEARCH_OFFSET_BY_TIMESTAMP (29),
 * VIEW_MESSAGE_BY_ID (33). */
int offsets_init(struct broker *b);
/* Write committed offsets to disk now (shutdown). */
int offsets_flush(struct broker *b);
void offsets_close(struct broker *b);
void offsets_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);
/* Commit an offset (pull's COMMIT_OFFSET flag, UPDATE_CONSUMER_OFFSET): an
 * OFFSET command through the state machine (fsm.c). */
void offsets_commit(struct broker *b, const char *group, const char *topic, int32_t queue_id, int64_t offset);
/* Apply a committed offset to the table (called by the state machine). */
void offsets_store(struct broker *b, const char *group, const char *topic, int32_t queue_id, int64_t offset);
/* The table as consumer_offsets.json text (replaces out's contents). */
int offsets_snapshot(struct broker *b, struct buf *out);
/* Committed offset, or -1 if the group never committed one for the queue. */
int64_t offsets_get(struct broker *b, const char *group, const char *topic, int32_t queue_id);

/* clients.c: HEART_BEAT (34), UNREGISTER_CLIENT (35),
 * GET_CONSUMER_LIST_BY_GROUP (38); NOTIFY_CONSUMER_IDS_CHANGED (40) pushes. */
int clients_init(struct broker *b);
void clients_close(struct broker *b);
void clients_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);
/* A client connection closed: drop its registrations. */
void clients_conn_closed(struct broker *b, struct rpc_conn *rc);
/* The group's subscription of a topic as a tag expression, learned from
 * heartbeats. Returns NULL if the group has none for the topic. */
const struct tags_expr *clients_subscription(struct broker *b, const char *group, const char *topic,
                                             int64_t *sub_version);
/* A live connection of a producer of group (rotating by rr), or NULL. */
struct rpc_conn *clients_producer_conn(struct broker *b, const char *group, uint32_t rr);

/* query.c: QUERY_MESSAGE (12) by KEYS token or UNIQ_KEY. */
void query_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);

/* resetoffset.c: INVOKE_BROKER_TO_RESET_OFFSET (222): move a group's
 * committed offsets to a time and push RESET_CONSUMER_CLIENT_OFFSET (220)
 * to its live consumers. */
void resetoffset_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);

/* clients.c: send req (oneway) with body to every live member of a consumer
 * group; returns how many were sent. */
size_t clients_oneway_group(struct broker *b, const char *group, struct remoting_cmd *req, const void *body,
                            size_t n);

/* registrar.c: REGISTER_BROKER to every name server at start, every
 * registerNameServerPeriod and right after a topic changes; UNREGISTER_BROKER
 * at shutdown. */
int registrar_init(struct broker *b);
/* Register with every name server soon (after a topic was created). */
void registrar_kick(struct broker *b);
/* Unregister, then close; cb fires when done (bounded by a timeout). */
void registrar_close(struct broker *b, void (*cb)(struct broker *b));

#endif
