/* bench-storage: append and sequential-read rates of the storage engine.
 *
 * Usage: bench-storage [dir]   (default $TMPDIR or /tmp; files are removed)
 *
 * Append cases go through struct store on a real uv loop: a batch of
 * single-message units is appended, then the loop runs one pass (one pwrite)
 * and one sync job (one fdatasync) and every callback fires; repeat. Read
 * cases read the log back from offset 0 with partlog_read (page cache warm,
 * checksum verified on every unit). One core, one partition. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "broker/store/store.h"
#include "src/errmsg.h"
#include "src/fs.h"
#include "src/log.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t acked;
static void append_cb(struct store_append_req *r, int status)
{
    (void)r;
    if (status) {
        fprintf(stderr, "append failed: %d\n", status);
        exit(1);
    }
    acked++;
}

struct result {
    uint64_t records, bytes, batches;
    double secs;
};

static int run_case(const char *root, const char *name, uint32_t size, uint32_t batch, uint64_t max_records,
                    double max_secs, bool lz4_batch)
{
    char dir[1024], err[ERRMSG_SIZE];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct store_opts o;
    store_opts_default(&o);
    o.retention_interval_ms = 0;
    struct store *st;
    struct partlog *pl;
    if (store_open(&loop, dir, &o, &st, err) || store_partition_open(st, "bench", 0, 1, &pl, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct store_append_req *reqs = calloc(batch, sizeof *reqs);
    struct record_msg *msgs = calloc(batch, sizeof *msgs);
    char *payload = malloc((size_t)size * batch);
    for (size_t i = 0; i < (size_t)size * batch; i++)
        payload[i] = (char)('a' + (i * 7 + i / 13) % 26);
    for (uint32_t i = 0; i < batch; i++)
        msgs[i] = (struct record_msg){payload + (size_t)i * size, size, i % 7};
    struct partlog_append_info info = {.codec = RECORD_CODEC_LZ4};
    acked = 0;
    struct result a = {0};
    double t0 = now_s();
    while (a.records < max_records && now_s() - t0 < max_secs) {
        uint64_t off;
        if (lz4_batch) {
            /* One producer batch of `batch` messages stored as one lz4 unit. */
            if (store_append(st, pl, msgs, batch, &info, &reqs[0], append_cb, &off))
                return 1;
        } else {
            for (uint32_t i = 0; i < batch; i++)
                if (store_append(st, pl, &msgs[i], 1, NULL, &reqs[i], append_cb, &off))
                    return 1;
        }
        uv_run(&loop, UV_RUN_DEFAULT); /* one write pass + one fdatasync job */
        a.records += batch;
        a.bytes += (uint64_t)batch * size;
        a.batches++;
    }
    a.secs = now_s() - t0;
    uint64_t want_acks = lz4_batch ? a.batches : a.records;
    if (acked != want_acks) {
        fprintf(stderr, "acks %" PRIu64 " != %" PRIu64 "\n", acked, want_acks);
        return 1;
    }
    struct store_stats ss;
    store_stats(st, &ss);
    printf("%-22s append  %8" PRIu64 " records %6" PRIu64 " syncs in %6.3f s: %10.0f records/s %8.1f MB/s "
           "(%.2f syncs/batch)\n",
           name, a.records, ss.sync_jobs, a.secs, (double)a.records / a.secs, (double)a.bytes / a.secs / 1e6,
           (double)ss.sync_jobs / (double)a.batches);

    /* Sequential read of everything just written. */
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    uint32_t max_msgs = 1000;
    struct partlog_msg *out = calloc(max_msgs, sizeof *out);
    struct partlog_read_result res;
    uint64_t at = partlog_min_offset(pl), n = 0, bytes = 0, sum = 0;
    t0 = now_s();
    while (at < partlog_end_offset(pl)) {
        if (partlog_read(pl, at, max_msgs, 1 << 20, NULL, &rb, out, &res)) {
            fprintf(stderr, "read failed at %" PRIu64 ": %s\n", at, partlog_errmsg(pl));
            return 1;
        }
        for (uint32_t i = 0; i < res.n; i++) {
            bytes += out[i].len;
            sum += out[i].data[0];
        }
        n += res.n;
        at = res.next_offset;
    }
    double rs = now_s() - t0;
    if (n != a.records) {
        fprintf(stderr, "read %" PRIu64 " of %" PRIu64 "\n", n, a.records);
        return 1;
    }
    printf("%-22s read    %8" PRIu64 " records              in %6.3f s: %10.0f records/s %8.1f MB/s (chk %" PRIu64
           ")\n",
           name, n, rs, (double)n / rs, (double)bytes / rs / 1e6, sum % 10);
    partlog_readbuf_free(&rb);
    free(out);
    free(reqs);
    free(msgs);
    free(payload);
    store_close(st, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    fs_remove_tree(dir, err);
    return 0;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char root[900], err[ERRMSG_SIZE];
    snprintf(root, sizeof root, "%s/bench-storage-%d", base, (int)getpid());
    if (fs_mkdir_p(root, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    log_set_level(LOG_WARN);
    printf("bench-storage: dir %s, one partition, segment 64 MiB, prealloc 1 MiB doubling, index every 4 KiB\n",
           root);
    printf("append: batches of 1000 single-message units, one pwrite + one fdatasync per batch, acks after sync\n");
    printf("read: partlog_read from offset 0, 1000 messages / 1 MiB per call, checksums verified\n");
    int rv = 0;
    rv |= run_case(root, "100B", 100, 1000, 2000000, 12, false);
    rv |= run_case(root, "1KiB", 1024, 1000, 600000, 12, false);
    rv |= run_case(root, "1KiB-lz4-batch", 1024, 1000, 600000, 8, true);
    fs_remove_tree(root, err);
    return rv;
}
