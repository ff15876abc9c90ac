/* struct tern_msg: decoding of pulled stored-format records into messages
 * with accessors (topic, ids, tags, keys, properties, decompressed body). */
#include "client/rmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/msgbuild.h"
#include "protocol/properties.h"
#include "src/errmsg.h"
#include "src/log.h"

/* Bodies decompress to at most this much. */
#define RMSG_MAX_BODY (64u << 20)

static int build_strings(struct tern_msg *m)
{
    const struct msg_stored *st = &m->st;
    size_t nsep = 0;
    for (size_t i = 0; i < st->properties.len; i++)
        if (st->properties.p[i] == PROPERTIES_ITEM_SEP)
            nsep++;
    size_t nitems_max = nsep + 1;
    size_t text = st->topic.len + 1 + st->properties.len + 1;
    size_t table_off = (text + 7) & ~(size_t)7;
    m->block = malloc(table_off + nitems_max * 2 * sizeof(char *));
    if (!m->block)
        return TERN_E_NOMEM;
    char *t = m->block;
    memcpy(t, st->topic.p, st->topic.len);
    t[st->topic.len] = 0;
    m->topic = t;
    char *props = t + st->topic.len + 1;
    memcpy(props, st->properties.p, st->properties.len);
    props[st->properties.len] = 0;
    m->items = (const char **)(void *)(m->block + table_off);
    m->nitems = 0;
    /* Split on 0x02; within an item split at the first 0x01; drop items
     * with an empty value or shorter than 3 bytes (string2messageProperties). */
    char *p = props, *end = props + st->properties.len;
    while (p < end) {
        char *e = memchr(p, PROPERTIES_ITEM_SEP, (size_t)(end - p));
        if (!e)
            e = end;
        *e = 0;
        char *sep = memchr(p, PROPERTIES_NAME_SEP, (size_t)(e - p));
        if (sep && e - p >= 3 && sep + 1 < e) {
            *sep = 0;
            /* A repeated key keeps its last value. */
            size_t k;
            for (k = 0; k < m->nitems; k++)
                if (strcmp(m->items[2 * k], p) == 0)
                    break;
            m->items[2 * k] = p;
            m->items[2 * k + 1] = sep + 1;
            if (k == m->nitems)
                m->nitems++;
        }
        p = e + 1;
    }
    m->tags = tern_msg_property(m, MSG_PROP_TAGS);
    m->keys = tern_msg_property(m, MSG_PROP_KEYS);
    m->uniq = tern_msg_property(m, MSG_PROP_UNIQ_KEY);
    if (!m->tags)
        m->tags = "";
    if (!m->keys)
        m->keys = "";
    return 0;
}

static void msg_free(struct tern_msg *m)
{
    free(m->block);
    buf_free(&m->dbody);
}

int rmsg_batch_decode(struct rmsg_batch *b, const uint8_t *body, size_t n, const char *broker,
                      const struct tags_expr *filter, char *errmsg)
{
    snprintf(b->broker, sizeof b->broker, "%s", broker ? broker : "");
    buf_init(&b->raw);
    buf_append(&b->raw, body, n);
    if (b->raw.err)
        return TERN_E_NOMEM;
    /* Count first so the arrays are allocated once. */
    struct message_iter it;
    struct msg_stored st;
    size_t count = 0;
    int rv;
    message_iter_init(&it, b->raw.data, b->raw.len, &limits_default, 0);
    while ((rv = message_iter_next(&it, &st, errmsg)) == 1)
        count++;
    if (rv < 0)
        return rv;
    b->msgs = calloc(count ? count : 1, sizeof *b->msgs);
    b->ptrs = calloc(count ? count : 1, sizeof *b->ptrs);
    if (!b->msgs || !b->ptrs)
        return TERN_E_NOMEM;
    message_iter_init(&it, b->raw.data, b->raw.len, &limits_default, 0);
    while (message_iter_next(&it, &st, errmsg) == 1) {
        struct tern_msg *m = &b->msgs[b->n];
        memset(m, 0, sizeof *m);
        m->st = st;
        buf_init(&m->dbody);
        if (build_strings(m) != 0) {
            msg_free(m);
            return TERN_E_NOMEM;
        }
        if (filter && !filter->all && !tags_match(filter, m->tags, strlen(m->tags))) {
            msg_free(m);
            continue;
        }
        m->broker = b->broker;
        msgid_offset_encode(&st.store_host, st.physical_offset, m->offset_id);
        m->body = (const uint8_t *)st.body.p;
        m->body_len = st.body.len;
        if (st.sysflag & MSG_SYSFLAG_COMPRESSED) {
            int drv = msgbuild_decompress(st.sysflag, st.body.p, st.body.len, RMSG_MAX_BODY,
                                          &m->dbody);
            if (drv == 0) {
                m->body = m->dbody.data;
                m->body_len = m->dbody.len;
            } else {
                LOGW("client", "message %s: cannot decompress body (%s); delivered as stored",
                     m->offset_id, tern_strerror(drv));
            }
        }
        b->ptrs[b->n] = m;
        b->n++;
    }
    return 0;
}

void rmsg_batch_free(struct rmsg_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        msg_free(&b->msgs[i]);
    free(b->msgs);
    free(b->ptrs);
    buf_free(&b->raw);
    memset(b, 0, sizeof *b);
}

/* ---- accessors --------------------------------------------------------------- */

const char *tern_msg_topic(const struct tern_msg *m)
{
    return m->topic;
}

const char *tern_msg_broker_name(const struct tern_msg *m)
{
    return m->broker ? m->broker : "";
}

int tern_msg_queue_id(const struct tern_msg *m)
{
    return m->st.queue_id;
}

int64_t tern_msg_queue_offset(const struct tern_msg *m)
{
    return m->st.queue_offset;
}

const char *tern_msg_id(const struct tern_msg *m)
{
    return m->uniq ? m->uniq : m->offset_id;
}

const char *tern_msg_offset_id(const struct tern_msg *m)
{
    return m->offset_id;
}

const char *tern_msg_tags(const struct tern_msg *m)
{
    return m->tags;
}

const char *tern_msg_keys(const struct tern_msg *m)
{
    return m->keys;
}

const void *tern_msg_body(const struct tern_msg *m, size_t *len)
{
    if (len)
        *len = m->body_len;
    return m->body;
}

const char *tern_msg_property(const struct tern_msg *m, const char *key)
{
    for (size_t i = 0; i < m->nitems; i++)
        if (strcmp(m->items[2 * i], key) == 0)
            return m->items[2 * i + 1];
    return NULL;
}

bool tern_msg_property_at(const struct tern_msg *m, size_t i, const char **key, const char **value)
{
    if (i >= m->nitems)
        return false;
    *key = m->items[2 * i];
    *value = m->items[2 * i + 1];
    return true;
}

int64_t tern_msg_born_timestamp(const struct tern_msg *m)
{
    return m->st.born_timestamp;
}

int64_t tern_msg_store_timestamp(const struct tern_msg *m)
{
    return m->st.store_timestamp;
}

int tern_msg_reconsume_times(const struct tern_msg *m)
{
    return m->st.reconsume_times;
}

int32_t tern_msg_flag(const struct tern_msg *m)
{
    return m->st.flag;
}

int32_t tern_msg_sysflag(const struct tern_msg *m)
{
    return m->st.sysflag;
}

int64_t tern_msg_physical_offset(const struct tern_msg *m)
{
    return m->st.physical_offset;
}
