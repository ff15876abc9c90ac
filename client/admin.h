/* Private: admin helpers with results the blocking layer can keep. */
#ifndef TERN_ADMIN_H
#define TERN_ADMIN_H

#include "client/libtern.h"
#include "client/rmsg.h"

/* Memory behind one admin result (route, cluster info, topic list, pull). */
struct admin_hold {
    struct buf arena;
    struct tern_broker *brokers;
    struct tern_queue_data *queues;
    struct tern_cluster *clusters;
    struct rmsg_batch batch;
    struct tern_route route;
    struct tern_cluster_info ci;
    struct tern_pull_result pull;
    const char **topics;
    size_t ntopics;
};

void admin_hold_free(struct admin_hold *h);

/* As the public calls, but when keep is not NULL the result memory is not
 * freed after the callback: *keep receives it (caller frees with
 * admin_hold_free). */
int admin_topic_route(struct tern_client *c, const char *topic, tern_route_cb cb, void *arg,
                      struct admin_hold **keep);
int admin_cluster_info(struct tern_client *c, tern_cluster_cb cb, void *arg,
                       struct admin_hold **keep);
int admin_topic_list(struct tern_client *c, tern_topics_cb cb, void *arg, struct admin_hold **keep);
/* QUERY_MESSAGE on the master of broker (tern_client_query_message); the
 * result stays in *keep. */
int admin_query_message(struct tern_client *c, const char *topic, const char *broker, const char *key,
                        bool unique, int max, int64_t begin_ms, int64_t end_ms, tern_pull_cb cb, void *arg,
                        struct admin_hold **keep);
/* VIEW_MESSAGE_BY_ID at the broker an offsetMsgId names. */
int admin_view_message(struct tern_client *c, const char *offset_msg_id, tern_pull_cb cb, void *arg,
                       struct admin_hold **keep);
int admin_pull(struct tern_client *c, const char *group, const char *topic, const char *broker,
               int qid, int64_t offset, int max, const char *expression, tern_pull_cb cb, void *arg,
               struct admin_hold **keep);

#endif
