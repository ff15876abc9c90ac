/* AllocateMessageQueueAveragely, the default consumer rebalance strategy (PROTOCOL.md §M.10). */
#ifndef TERN_ALLOCATE_H
#define TERN_ALLOCATE_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/lockbody.h"

/* The slice of the sorted queue list (n_queues) that the client at index
 * self_index of the sorted client-id list (n_clients) takes: *start and
 * *count (count 0 = nothing). Returns false, taking nothing, when
 * self_index >= n_clients or n_clients == 0. */
bool allocate_averagely(size_t n_queues, size_t n_clients, size_t self_index, size_t *start,
                        size_t *count);

/* Index of self in ids, or -1 (the client then takes nothing). */
long allocate_find(const char *const *ids, size_t n, const char *self);

/* MessageQueue order: topic, then brokerName, then queueId (byte order of
 * UTF-8, which equals Java's for the ASCII names topics and brokers use). */
int allocate_mq_compare(const struct lockbody_mq *a, const struct lockbody_mq *b);
void allocate_sort_mqs(struct lockbody_mq *mqs, size_t n);
/* Client ids in string order. */
void allocate_sort_ids(const char **ids, size_t n);

#endif
