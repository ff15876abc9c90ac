/* Delayed messages (broker/DELAY.md).
 *
 * A delayed send is an APPEND into a lane of SCHEDULE_TOPIC_XXXX (queue 0:
 * user delays, queue 1: retries) holding the whole message plus REAL_TOPIC,
 * REAL_QID and TIMER_OUT_MS (the due time, computed by the leader's send
 * handler and carried in the command, so every replica agrees). Applying it
 * indexes the message by due time (delayidx). The ready leader scans due
 * entries and proposes one DELIVER command per batch: the APPENDs to the
 * real topics and the cursor move, applied as one command. */
#ifndef TERN_DELAY_H
#define TERN_DELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "broker/fsm.h"

struct broker;
struct properties;

#define DELAY_TOPIC "SCHEDULE_TOPIC_XXXX"
#define DELAY_LANE_USER 0
#define DELAY_LANE_RETRY 1
#define DELAY_LANES 2
#define DELAY_MAX_LEVELS 64

/* FSM command type (numbers 10-19 are this module's). */
#define FSM_CMD_DELAY_DELIVER 10

int delay_init(struct broker *b);
/* Stop the scanner. Returns true if cb will fire (the timer handle, data =
 * b), false if there was nothing to close. */
bool delay_close(struct broker *b, uv_close_cb cb);
void delay_free(struct broker *b);
/* The ready leader (or a broker without replication at start) creates the
 * lane topic. */
void delay_leader_ready(struct broker *b);

/* Parse "1s 5s 1m ..." into ms. Returns the number of levels, or -1. */
int delay_parse_levels(const char *s, int64_t *out, int max);
/* Delay of level (1-based, clamped to the table like RocketMQ). */
int64_t delay_level_ms(const struct broker *b, int level);

/* The due time the message's properties ask for: 0 if none (or one already
 * past: deliver now), else the absolute time in ms. Returns a RocketMQ
 * response code (MESSAGE_ILLEGAL with remark for bad values or a delay above
 * timerMaxDelaySec). */
int delay_due(const struct broker *b, const struct properties *p, int64_t now, int64_t *due, char *remark,
              size_t cap);

/* Called by the state machine after it appended n records of a lane. */
void delay_on_append(struct broker *b, int32_t lane, uint64_t first_off, const struct record_msg *msgs,
                     uint32_t n);
/* The time index of lane (catch-up snapshot, delay_snap.c); NULL without
 * the delay module. */
struct delayidx *delay_lane_index(struct broker *b, int lane);
/* Apply a DELIVER command. */
int delay_apply(struct broker *b, uint64_t source, const uint8_t *cmd, size_t len, struct fsm_result *res);

#endif
