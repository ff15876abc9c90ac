/* Private: the push consumer (consumer.c: lifecycle, heartbeat data,
 * rebalance, close) and its per-queue state machines (cqueue.c: start
 * offset, long-poll pulls, delivery, offset commits). */
#ifndef TERN_CONSUMER_H
#define TERN_CONSUMER_H

#include <stdbool.h>
#include <stdint.h>

#include "client/libtern.h"
#include "client/rmsg.h"
#include "protocol/tags.h"

enum cqueue_state {
    CQ_INIT,    /* start offset unknown: look it up when due */
    CQ_READY,   /* pull when due */
    CQ_WAIT,    /* undelivered messages (RETRY_LATER): deliver again when due */
    CQ_SENDBACK, /* orderly: dead-lettering a batch that failed too often (orderly.c) */
    CQ_RETRYBACK, /* concurrent clustering: sending a failed batch to %RETRY%group (retryback.c) */
};

/* One in-flight request of a consumer. Requests cannot be withdrawn from
 * rpc, so their callbacks find the consumer (or queue) through a ticket that
 * is detached when either goes away first. */
struct ticket {
    struct tern_consumer *cons; /* NULL: detached */
    struct cqueue *q;           /* NULL: none or dropped */
    struct tern_client *c;
    bool client_close_op; /* counts in the client's close */
    struct ticket *prev, *next;
};

struct cqueue {
    struct tern_consumer *cons;
    const char *topic; /* cons->topic or cons->retry_topic */
    bool retry;        /* a queue of %RETRY%<group> */
    char broker[LIBTERN_NAME_MAX];
    int qid;
    enum cqueue_state state;
    int64_t next_pull; /* offset of the next pull */
    int64_t consumed;  /* next offset to consume (what gets committed); -1 unknown */
    int64_t committed; /* last value committed; -1 none */
    int64_t due;       /* monotonic ms of the next action */
    bool busy;         /* a request is in flight */
    int64_t pull_from; /* member the broker suggested pulling from (suggestWhichBrokerId); 0 = master */
    int64_t shun;       /* member whose pull failed: not used before shun_until (monotonic ms) */
    int64_t shun_until;
    struct rmsg_batch *pending;
    /* Orderly consumption (orderly.c). */
    bool locked;        /* the broker granted our lock */
    int64_t lock_until; /* monotonic ms: consume only before this */
    uint64_t lock_gen;  /* lock request that last asked for this queue; 0 never */
    int attempts;       /* failed deliveries of the current batch */
    size_t sb_next, sb_end; /* messages [sb_next, sb_end) of pending to send back */
    bool sb_refused;        /* the broker refused a send-back of this batch (logged once) */
    struct cqueue *next;
};

struct boffset {
    char broker[LIBTERN_NAME_MAX];
    int qid;
    int64_t offset;
};

struct tern_consumer {
    struct tern_client *c;
    char group[LIBTERN_NAME_MAX];
    char topic[LIMITS_MAX_TOPIC_SYSTEM + 1];
    char *expr;
    struct tags_expr tags;
    const char *tagv[TAGS_MAX];
    int32_t codes[TAGS_MAX];
    enum tern_consume_from from;
    int64_t from_ts;
    enum tern_model model;
    size_t batch_max;
    int pull_batch;
    int64_t suspend_ms;
    int64_t rebalance_ms;
    int64_t commit_ms;
    int64_t retry_delay_ms;
    char *offset_path;
    tern_consume_cb cb;
    void *arg;
    int64_t sub_version;

    struct cqueue *queues; /* sorted by broker, queue id */
    struct ticket *tickets;
    bool rebalancing;
    bool rebalance_again;
    int64_t next_rebalance;
    int64_t next_commit;
    uint64_t rebalances;
    uint64_t hb_route_version; /* route version last heartbeated */
    int in_deliver;

    struct boffset *boffs; /* broadcasting: local offset table */
    size_t nboffs;
    bool boffs_dirty;

    bool orderly;
    int max_reconsume;
    /* Clustering, not orderly: RETRY_LATER sends messages back to the broker
     * and the group also consumes %RETRY%<group> (retryback.c). */
    bool use_retry;
    char retry_topic[LIBTERN_NAME_MAX + 8];
    bool retry_fetching;     /* a route fetch of retry_topic is in flight */
    size_t retry_nsub_seen;  /* readable retry queues in the last allocation */
    bool retry_wanted;       /* sent back, retry topic not allocated yet: probe its route */
    int64_t next_retry_probe; /* monotonic ms */
    int64_t next_lock; /* monotonic ms of the next lock round */
    uint64_t lock_gen;

    bool closing;
    bool client_closing;
    int close_ops;
    bool close_started;
    tern_close_cb close_cb;
    void *close_arg;
    struct tern_consumer *next;
};

/* ---- tickets (consumer.c) ---- */
struct ticket *consumer_ticket(struct tern_consumer *cons, struct cqueue *q);
/* Unlink t; returns false (and frees t) when it was detached, i.e. the
 * callback must not touch the consumer. On true the caller frees t with
 * free() after use. */
bool consumer_ticket_take(struct ticket *t);
/* Detach every ticket of q. */
void consumer_detach_queue(struct tern_consumer *cons, struct cqueue *q);
/* A delivery finished: complete a close requested meanwhile. */
void consumer_maybe_finish(struct tern_consumer *cons);
/* Local offsets (broadcasting). */
int64_t consumer_boffset_get(struct tern_consumer *cons, const char *broker, int qid);
void consumer_boffset_set(struct tern_consumer *cons, const char *broker, int qid, int64_t off);
/* A send-back to the retry topic succeeded (retryback.c). */
void consumer_retry_topic_used(struct tern_consumer *cons);
/* Close-time request finished. */
void consumer_close_op_done(struct ticket *t);

/* ---- cqueue.c ---- */
/* topic: cons->topic or cons->retry_topic (the pointer is kept). */
struct cqueue *cqueue_new(struct tern_consumer *cons, const char *topic, const char *broker, int qid);
/* Drop: commit (oneway) and free. */
void cqueue_drop(struct cqueue *q);
void cqueue_free(struct cqueue *q);
/* Do whatever is due at now. */
void cqueue_tick(struct cqueue *q, int64_t now);
/* Commit the consumed offset if it moved: oneway (periodic) or as a close
 * op (acknowledged, counted on the consumer). */
void cqueue_commit(struct cqueue *q, bool close_op);

/* Forget the queue's position and pending messages (in-flight answers are
 * ignored) and start again from the committed offset. */
void cqueue_reset(struct cqueue *q);

/* ---- orderly.c ---- */
/* Lock (or renew) every owned queue when due. */
void orderly_tick(struct tern_consumer *cons, int64_t now);
/* May q pull and deliver now (its lock is valid)? */
bool orderly_may_consume(const struct cqueue *q, int64_t now);
/* A request to a broker failed or the route names no leader: renew the
 * locks and refresh the route soon. */
void orderly_broker_trouble(struct tern_consumer *cons);
/* Release q's lock (oneway), after its offset commit was sent. */
void orderly_unlock(struct cqueue *q);
/* After the callback answered rv for the k messages at pending->next:
 * returns true when delivery must stop (retry later or dead-letter). */
bool orderly_consumed(struct cqueue *q, int rv, size_t k);
/* CQ_SENDBACK is due: send the next message to the dead-letter queue. */
void orderly_sendback(struct cqueue *q);

/* ---- retryback.c ---- */
/* The callback answered RETRY_LATER for the k messages at pending->next of a
 * concurrent clustering queue: send them back (CONSUMER_SEND_MSG_BACK), then
 * count them as consumed; a refused or failed send-back redelivers them
 * locally after retry_delay_ms instead. */
void retryback_start(struct cqueue *q, size_t k);
/* CQ_RETRYBACK is due: send the next message back. */
void retryback_send(struct cqueue *q);
/* A pulled batch of a retry queue: show each message under its original
 * topic (RETRY_TOPIC), as RocketMQ's resetRetryAndNamespace does. */
void retryback_reset_topics(struct rmsg_batch *b);

#endif
