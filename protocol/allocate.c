/* AllocateMessageQueueAveragely and the list orderings it depends on. */
#include "protocol/allocate.h"

#include <stdlib.h>
#include <string.h>

bool allocate_averagely(size_t n_queues, size_t n_clients, size_t self_index, size_t *start,
                        size_t *count)
{
    *start = 0;
    *count = 0;
    if (n_clients == 0 || self_index >= n_clients)
        return false;
    size_t n = n_queues, c = n_clients, i = self_index;
    size_t mod = n % c;
    size_t avg;
    if (n <= c)
        avg = 1;
    else if (mod > 0 && i < mod)
        avg = n / c + 1;
    else
        avg = n / c;
    size_t s = (mod > 0 && i < mod) ? i * avg : i * avg + mod;
    if (s < n) {
        *start = s;
        *count = avg < n - s ? avg : n - s;
    }
    return true;
}

long allocate_find(const char *const *ids, size_t n, const char *self)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ids[i], self) == 0)
            return (long)i;
    }
    return -1;
}

int allocate_mq_compare(const struct lockbody_mq *a, const struct lockbody_mq *b)
{
    int c = strcmp(a->topic, b->topic);
    if (c)
        return c;
    c = strcmp(a->broker_name, b->broker_name);
    if (c)
        return c;
    return (a->queue_id > b->queue_id) - (a->queue_id < b->queue_id);
}

static int mq_cmp_cb(const void *a, const void *b)
{
    return allocate_mq_compare(a, b);
}

static int id_cmp_cb(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void allocate_sort_mqs(struct lockbody_mq *mqs, size_t n)
{
    if (n > 1)
        qsort(mqs, n, sizeof *mqs, mq_cmp_cb);
}

void allocate_sort_ids(const char **ids, size_t n)
{
    if (n > 1)
        qsort(ids, n, sizeof *ids, id_cmp_cb);
}
