/* tern-broker configuration: every key with its default and meaning, in one
 * table (brokerconf.c) that fills defaults, parses `-c FILE` and prints the
 * documentation (`tern-broker --print-config`). Names follow RocketMQ's
 * broker.conf where a RocketMQ key exists. */
#ifndef TERN_BROKERCONF_H
#define TERN_BROKERCONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include "src/config.h"

struct brokerconf {
    char cluster[128];         /* brokerClusterName */
    char name[128];            /* brokerName: the group's name */
    int64_t id;                /* brokerId: 0 takes writes */
    char listen_host[64];      /* listenHost */
    int64_t port;              /* listenPort; port-2 is served too */
    char advertise_ip[64];     /* brokerIP1: address put in routes and msg ids */
    char namesrv[1024];        /* namesrvAddr: "a:9876;b:9876" */
    char data_dir[1024];       /* storePathRootDir */
    bool auto_create_topic;    /* autoCreateTopicEnable */
    int64_t default_queues;    /* defaultTopicQueueNums */
    bool auto_create_group;    /* autoCreateSubscriptionGroup */
    uint64_t max_message_size; /* maxMessageSize */
    uint64_t max_frame_size;   /* maxFrameSize */
    uint64_t segment_bytes;    /* segmentBytes */
    int64_t retention_ms;      /* fileReservedTime */
    uint64_t retention_bytes;  /* retentionBytesPerQueue; 0 = no size limit */
    int64_t register_period_ms; /* registerNameServerPeriod */
    int64_t client_expiry_ms;  /* channelExpiredTimeout */
    bool long_polling;         /* longPollingEnable */
    bool slave_read_enable;    /* slaveReadEnable */
    int64_t follower_read_lag; /* followerReadLag: messages */
    int64_t short_polling_ms;  /* shortPollingTimeMills */
    int64_t max_connections;   /* maxConnections; 0 = unlimited */
    uint64_t conn_write_backlog; /* maxConnectionBacklogBytes */
    uint64_t max_inflight_bytes; /* maxInflightBytes: SYSTEM_BUSY past it */
    uint64_t disk_min_free;    /* diskMinFreeBytes: refuse sends below it */
    int64_t offset_flush_ms;   /* consumerOffsetFlushInterval */
    char region[64];           /* regionId: MSG_REGION in send responses */
    char log_level[16];        /* logLevel: debug, info, warn, error */
    int64_t raft_id;           /* raftId: 0 = no replication */
    char raft_address[64];     /* raftAddress: this member's raft host:port */
    char raft_peers[1024];     /* raftPeers: "1@host:port;2@host:port;..." */
    char raft_dir[1024];       /* raftDir: default <storePathRootDir>/raft */
    int64_t raft_election_ms;  /* raftElectionTimeout */
    int64_t idle_timeout_ms;   /* connectionIdleTimeout; 0 = never */
    int64_t partial_frame_ms;  /* partialFrameTimeout; 0 = never */
    int64_t max_topics;        /* maxTopics */
    int64_t max_queues;        /* maxQueuesPerTopic */
    bool acl_enable;           /* aclEnable */
    char acl_file[1024];       /* aclFile: plain_acl.yml */
    int64_t acl_reload_ms;     /* aclReloadInterval */
    char acl_access_key[256];  /* aclAccessKey: signs this broker's own requests */
    char acl_secret_key[256];  /* aclSecretKey */
    bool msg_index;            /* messageIndexEnable */
    int64_t msg_index_slots;   /* messageIndexSlots */
    int64_t msg_index_entries; /* messageIndexEntries */
    int64_t txn_timeout_ms;    /* transactionTimeOut: first check-back after it */
    int64_t txn_check_interval_ms; /* transactionCheckInterval */
    int64_t txn_check_max;     /* transactionCheckMax */
    int64_t txn_check_rate;    /* transactionCheckRate: checks per second */
    int64_t raft_snapshot_bytes; /* raftSnapshotBytes: log bytes between snapshots */
    int64_t raft_catchup_ms;     /* raftCatchupTimeout: bound on a snapshot restore's segment fetch */
    char delay_levels[512];    /* messageDelayLevel: "1s 5s ... 2h" */
    int64_t timer_max_delay_s; /* timerMaxDelaySec */
};

/* Fill defaults. Returns 0 or TERN_E_INVAL with errmsg. */
int brokerconf_defaults(struct brokerconf *c, char *errmsg);
/* Load a config file over the current values. */
int brokerconf_load(struct brokerconf *c, const char *path, char *errmsg);
/* Set one key (command-line overrides "key=value"). */
int brokerconf_set(struct brokerconf *c, const char *key, const char *value, char *errmsg);
/* Print every key, its default and meaning. */
void brokerconf_print(FILE *out);
/* The key table (for config_parse_args). */
const struct config_key *brokerconf_keys(size_t *n);

#endif
