/* Concurrent clustering consumers: a batch the callback answered
 * RETRY_LATER goes back to the broker, as RocketMQ's
 * ConsumeMessageConcurrentlyService.sendMessageBack does.
 *
 * Happy path: CONSUMER_SEND_MSG_BACK per message (commit-log offset, group,
 * delayLevel 0 = the broker picks 3 + reconsumeTimes, originMsgId,
 * originTopic = the consumer's topic, maxReconsumeTimes) -> the broker stores
 * it into %RETRY%<group> through its retry delay lane, or into %DLQ%<group>
 * once reconsumeTimes reached the maximum -> the messages count as consumed
 * and the queue's offset moves past them. The group consumes %RETRY%<group>
 * like any topic (consumer.c rebalances it), and retryback_reset_topics
 * shows those messages under their original topic.
 * Failure modes: a send-back that fails or is refused -> the messages not yet
 * sent back are redelivered locally after retry_delay_ms with reconsumeTimes
 * raised by one (RocketMQ's submitConsumeRequestLater), the offset staying
 * before them: nothing is lost. The queue dropped or the consumer closed
 * meanwhile -> the answer is ignored and the offset was not moved, so the
 * next owner redelivers them (at least once). */
#include <stdlib.h>
#include <string.h>

#include "client/consumer.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/properties.h"
#include "src/clock.h"
#include "src/log.h"

void retryback_reset_topics(struct rmsg_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        /* The value lives in the message's own block, as long as topic. */
        const char *t = tern_msg_property(&b->msgs[i], MSG_PROP_RETRY_TOPIC);
        if (t && *t)
            b->msgs[i].topic = t;
    }
}

static const char *sendback_addr(struct cqueue *q)
{
    struct routes_topic *r = routes_find(q->cons->c, q->topic);
    return r ? routes_master(r, q->broker) : NULL;
}

/* Redeliver [sb_next, ...) locally after retry_delay_ms; what was sent back
 * before sb_next is consumed. */
static void fall_back_local(struct cqueue *q)
{
    struct tern_consumer *cons = q->cons;
    struct rmsg_batch *b = q->pending;
    for (size_t i = q->sb_next; i < q->sb_end; i++)
        b->msgs[i].st.reconsume_times++;
    if (q->sb_next > b->next) {
        b->next = q->sb_next;
        q->consumed = b->msgs[b->next - 1].st.queue_offset + 1;
    }
    q->state = CQ_WAIT;
    q->due = clock_mono_ms() + cons->retry_delay_ms;
}

static void sendback_done_cb(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct ticket *t = arg;
    if (!consumer_ticket_take(t))
        return;
    struct cqueue *q = t->q;
    free(t);
    if (!q)
        return;
    q->busy = false;
    struct tern_consumer *cons = q->cons;
    if (cons->closing || q->state != CQ_RETRYBACK)
        return;
    if (status != 0 || resp->code != CODES_RESP_SUCCESS) {
        LOGW("client", "consumer %s: queue %s/%d: send-back to the retry topic: %s%.*s; redelivering locally in %lld ms",
             cons->group, q->broker, q->qid, status ? errmsg : "refused: ", status ? 0 : (int)resp->remark.len,
             status ? "" : resp->remark.p ? resp->remark.p : "", (long long)cons->retry_delay_ms);
        fall_back_local(q);
        return;
    }
    consumer_retry_topic_used(cons);
    q->sb_next++;
    if (q->sb_next < q->sb_end) {
        retryback_send(q);
        return;
    }
    /* All sent back: consumed. Deliver the rest of the batch (or pull) from
     * the next tick. */
    struct rmsg_batch *b = q->pending;
    b->next = q->sb_end;
    q->consumed = b->msgs[b->next - 1].st.queue_offset + 1;
    q->state = CQ_WAIT;
    q->due = clock_mono_ms();
}

void retryback_send(struct cqueue *q)
{
    struct tern_consumer *cons = q->cons;
    struct tern_client *c = cons->c;
    const struct tern_msg *m = &q->pending->msgs[q->sb_next];
    const char *addr = sendback_addr(q);
    struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_CONSUMER_SEND_MSG_BACK);
    struct headers_client_sendback_req h = {
        .offset = m->st.physical_offset,
        .group = slice_of(cons->group),
        .delay_level = 0, /* the broker decides: 3 + reconsumeTimes */
        .origin_msg_id = slice_of(m->uniq ? m->uniq : m->offset_id),
        .origin_topic = slice_of(cons->topic),
        .has_max_reconsume_times = cons->max_reconsume >= 0,
        .max_reconsume_times = cons->max_reconsume,
        .bname = slice_of(q->broker),
    };
    struct ticket *t = addr ? consumer_ticket(cons, q) : NULL;
    if (!t || headers_client_sendback_req_encode(&h, cmd) != 0 ||
        peer_call(c, addr, cmd, NULL, 0, c->timeout_ms, sendback_done_cb, t) != 0) {
        if (t) {
            consumer_ticket_take(t);
            free(t);
        }
        LOGW("client", "consumer %s: queue %s/%d: cannot send back to the retry topic (%s); redelivering locally",
             cons->group, q->broker, q->qid, addr ? "request failed" : "no master address");
        fall_back_local(q);
        return;
    }
    q->busy = true;
}

void retryback_start(struct cqueue *q, size_t k)
{
    q->state = CQ_RETRYBACK;
    q->sb_next = q->pending->next;
    q->sb_end = q->pending->next + k;
    q->due = clock_mono_ms();
    /* From inside a callback that closed the consumer: leave the messages
     * unconsumed (the offset stays before them). */
    if (q->cons->closing)
        return;
    retryback_send(q);
}
