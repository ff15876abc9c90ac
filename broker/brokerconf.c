/* The broker's configuration keys, defaults and documentation. */
#include "broker/brokerconf.h"

#include <stddef.h>

#include "src/config.h"

#define K(name, type, field, size, def, doc, min, max) \
    {name, type, offsetof(struct brokerconf, field), size, def, doc, min, max}
#define S(field) sizeof(((struct brokerconf *)0)->field)

static const struct config_key keys[] = {
    K("brokerClusterName", CONFIG_STRING, cluster, S(cluster), "DefaultCluster",
      "Cluster this broker group belongs to (routes and `tern cluster`).", 0, 0),
    K("brokerName", CONFIG_STRING, name, S(name), "broker-a",
      "Name of the broker group. Replicas of one group share it.", 0, 0),
    K("brokerId", CONFIG_INT, id, 0, "0",
      "Member id within the group; 0 is the member that takes writes (without Raft).", 0, 1024),
    K("listenHost", CONFIG_STRING, listen_host, S(listen_host), "0.0.0.0",
      "Address to listen on.", 0, 0),
    K("listenPort", CONFIG_INT, port, 0, "10911",
      "Client port. The broker also serves the same protocol on listenPort-2 (RocketMQ's VIP channel).",
      3, 65535),
    K("brokerIP1", CONFIG_STRING, advertise_ip, S(advertise_ip), "127.0.0.1",
      "Address registered with the name servers and encoded in message ids.", 0, 0),
    K("namesrvAddr", CONFIG_STRING, namesrv, S(namesrv), "127.0.0.1:9876",
      "Name servers to register with, separated by ';'. Empty: register nowhere.", 0, 0),
    K("storePathRootDir", CONFIG_STRING, data_dir, S(data_dir), "./data/broker-a",
      "Directory for partition logs, topic configuration and consumer offsets.", 0, 0),
    K("autoCreateTopicEnable", CONFIG_BOOL, auto_create_topic, 0, "true",
      "Create unknown topics on first send from the TBW102 template (off in production).", 0, 0),
    K("defaultTopicQueueNums", CONFIG_INT, default_queues, 0, "8",
      "Queues of the TBW102 template, the most an auto-created topic gets.", 1, 1024),
    K("autoCreateSubscriptionGroup", CONFIG_BOOL, auto_create_group, 0, "true",
      "Accept consumer groups the broker has not seen before.", 0, 0),
    K("maxMessageSize", CONFIG_BYTES, max_message_size, 0, "4m",
      "Largest message body accepted; larger sends get MESSAGE_ILLEGAL.", 1, 1 << 30),
    K("maxFrameSize", CONFIG_BYTES, max_frame_size, 0, "16m",
      "Largest remoting frame; a larger declared frame closes the connection.", 1024, 1 << 30),
    K("segmentBytes", CONFIG_BYTES, segment_bytes, 0, "64m",
      "Size of one partition log segment file.", 1 << 16, 1LL << 31),
    K("fileReservedTime", CONFIG_MS, retention_ms, 0, "7d",
      "Delete whole segments whose newest message is older than this.", 60000, 0x7fffffffffffLL),
    K("retentionBytesPerQueue", CONFIG_BYTES, retention_bytes, 0, "0",
      "Delete the oldest segments of a queue above this size; 0 keeps all.", 0, 0),
    K("registerNameServerPeriod", CONFIG_MS, register_period_ms, 0, "30s",
      "Interval of re-registration with every name server (the broker heartbeat).", 1000, 60000),
    K("channelExpiredTimeout", CONFIG_MS, client_expiry_ms, 0, "120s",
      "Drop a client that has not sent a heartbeat for this long.", 1000, 3600000),
    K("longPollingEnable", CONFIG_BOOL, long_polling, 0, "true",
      "Hold pulls that find no message until one arrives or the client's timeout.", 0, 0),
    K("shortPollingTimeMills", CONFIG_MS, short_polling_ms, 0, "1s",
      "Hold time for pulls when long polling is off.", 0, 60000),
    K("slaveReadEnable", CONFIG_BOOL, slave_read_enable, 0, "false",
      "Raft groups: pull answers send a consumer more than followerReadLag messages behind to a "
      "follower (suggestWhichBrokerId), and back to the leader once it has caught up.", 0, 0),
    K("followerReadLag", CONFIG_INT, follower_read_lag, 0, "100000",
      "With slaveReadEnable: messages a consumer must be behind in a queue to be sent to a follower.", 1,
      1000000000),
    K("maxConnections", CONFIG_INT, max_connections, 0, "10000",
      "Connections accepted per listener; more are closed at once. 0: unlimited.", 0, 1000000),
    K("maxConnectionBacklogBytes", CONFIG_BYTES, conn_write_backlog, 0, "8m",
      "Unsent response bytes per connection before the broker stops reading from it.", 65536, 1LL << 32),
    K("maxInflightBytes", CONFIG_BYTES, max_inflight_bytes, 0, "256m",
      "Bytes of sends accepted but not yet durable; above it sends get SYSTEM_BUSY.", 1 << 20, 1LL << 40),
    K("diskMinFreeBytes", CONFIG_BYTES, disk_min_free, 0, "64m",
      "Refuse sends (SERVICE_NOT_AVAILABLE) while the data disk has less free space.", 0, 0),
    K("consumerOffsetFlushInterval", CONFIG_MS, offset_flush_ms, 0, "1s",
      "How often committed consumer offsets are written to disk (and at shutdown).", 100, 60000),
    K("regionId", CONFIG_STRING, region, S(region), "DefaultRegion",
      "MSG_REGION returned in send responses.", 0, 0),
    K("logLevel", CONFIG_STRING, log_level, S(log_level), "info", "debug, info, warn or error.", 0, 0),
    K("raftId", CONFIG_INT, raft_id, 0, "0",
      "This member's id in its broker group's Raft group (1, 2, ...); 0 runs without replication.", 0, 1024),
    K("raftAddress", CONFIG_STRING, raft_address, S(raft_address), "",
      "host:port this member's Raft traffic listens on (IPv4), with raftId > 0.", 0, 0),
    K("raftPeers", CONFIG_STRING, raft_peers, S(raft_peers), "",
      "Every voter of the group as id@host:port separated by ';' (this member included); the same on "
      "every member. Used to bootstrap a new group. A member joining an existing group lists the "
      "group without itself: it does not bootstrap and waits for `tern group add-replica`.", 0, 0),
    K("raftDir", CONFIG_STRING, raft_dir, S(raft_dir), "",
      "Raft log directory (ext4 or xfs); empty: <storePathRootDir>/raft.", 0, 0),
    K("raftElectionTimeout", CONFIG_MS, raft_election_ms, 0, "500ms",
      "Raft election timeout (leader failure detection: a follower stands for election after 1-2x this "
      "without a heartbeat); heartbeats go every tenth of it. 500ms keeps failover under 2 s "
      "(bench/failover.sh); raise it on hosts whose loop can stall that long.", 200, 60000),
    K("connectionIdleTimeout", CONFIG_MS, idle_timeout_ms, 0, "120s",
      "Close a client connection that sends nothing for this long (clients heartbeat every 30 s). 0: never.",
      0, 0x7fffffffffffLL),
    K("partialFrameTimeout", CONFIG_MS, partial_frame_ms, 0, "30s",
      "Close a connection that holds an incomplete frame this long. 0: never.", 0, 0x7fffffffffffLL),
    K("maxTopics", CONFIG_INT, max_topics, 0, "10000",
      "Most topics (retry and system topics included) this broker keeps; creating more is refused.", 1,
      10000000),
    K("maxQueuesPerTopic", CONFIG_INT, max_queues, 0, "1024",
      "Most read or write queues one topic may have (at most 1024).", 1, 1024),
    K("aclEnable", CONFIG_BOOL, acl_enable, 0, "false",
      "Check every request against aclFile (RocketMQ plain ACL: AccessKey + HMAC-SHA1 Signature).", 0, 0),
    K("aclFile", CONFIG_STRING, acl_file, S(acl_file), "",
      "plain_acl.yml with accounts and permissions; empty: <storePathRootDir>/plain_acl.yml. Re-read "
      "when it changes.", 0, 0),
    K("aclReloadInterval", CONFIG_MS, acl_reload_ms, 0, "2s",
      "How often aclFile is checked for changes.", 100, 3600000),
    K("aclAccessKey", CONFIG_STRING, acl_access_key, S(acl_access_key), "",
      "Access key this broker signs its own requests to other brokers with (an admin account).", 0, 0),
    K("aclSecretKey", CONFIG_STRING, acl_secret_key, S(acl_secret_key), "",
      "Secret key for aclAccessKey.", 0, 0),
    K("messageIndexEnable", CONFIG_BOOL, msg_index, 0, "true",
      "Index KEYS and UNIQ_KEY of stored messages for QUERY_MESSAGE (tern query).", 0, 0),
    K("messageIndexSlots", CONFIG_INT, msg_index_slots, 0, "65536",
      "Hash slots per key index file (one file set per queue; 4 bytes each).", 1, 1 << 24),
    K("messageIndexEntries", CONFIG_INT, msg_index_entries, 0, "262144",
      "Keys per key index file (32 bytes each) before it is sealed and a new one starts.", 16, 1 << 26),
    K("transactionTimeOut", CONFIG_MS, txn_timeout_ms, 0, "6s",
      "An undecided transactional half message is first checked back this long after it was stored "
      "(its CHECK_IMMUNITY_TIME_IN_SECONDS property overrides).", 100, 86400000),
    K("transactionCheckInterval", CONFIG_MS, txn_check_interval_ms, 0, "30s",
      "Time between two check-backs of the same undecided transaction.", 100, 86400000),
    K("transactionCheckMax", CONFIG_INT, txn_check_max, 0, "15",
      "Check-backs before an undecided transaction is parked in TRANS_CHECK_MAX_TIME_TOPIC.", 1, 65535),
    K("transactionCheckRate", CONFIG_INT, txn_check_rate, 0, "1000",
      "Most CHECK_TRANSACTION_STATE requests this broker sends per second.", 1, 1000000),
    K("raftSnapshotBytes", CONFIG_BYTES, raft_snapshot_bytes, 0, "64m",
      "Raft log bytes between snapshots, and kept behind each (trailing); a member further behind than "
      "that catches up by snapshot + segment fetch. Small values are for tests.", 0, 0),
    K("raftCatchupTimeout", CONFIG_MS, raft_catchup_ms, 0, "5min",
      "Longest a far-behind member spends fetching partition segments inside a snapshot restore; past it "
      "the member stops (it retries at its next start).", 1000, 86400000),
    K("messageDelayLevel", CONFIG_STRING, delay_levels, S(delay_levels),
      "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h",
      "Delay of each DELAY level 1, 2, ... (units ms, s, m, h, d); retries use level 3 + reconsume times.", 0, 0),
    K("timerMaxDelaySec", CONFIG_INT, timer_max_delay_s, 0, "604800",
      "Longest delay accepted (seconds, up to a year); a later delivery time gets MESSAGE_ILLEGAL.", 1, 31536000),
};

#define NKEYS (sizeof keys / sizeof keys[0])

int brokerconf_defaults(struct brokerconf *c, char *errmsg)
{
    return config_defaults(keys, NKEYS, c, errmsg);
}

int brokerconf_load(struct brokerconf *c, const char *path, char *errmsg)
{
    return config_load_file(keys, NKEYS, c, path, errmsg);
}

int brokerconf_set(struct brokerconf *c, const char *key, const char *value, char *errmsg)
{
    return config_set(keys, NKEYS, c, key, value, errmsg);
}

const struct config_key *brokerconf_keys(size_t *n)
{
    *n = NKEYS;
    return keys;
}

void brokerconf_print(FILE *out)
{
    fprintf(out, "# tern-broker configuration: every key with its default.\n\n");
    config_print_doc(keys, NKEYS, out);
}
