#include "tests/lib/tsync.h"

#include "src/clock.h"
#include "tests/lib/testlib.h"

struct tern_client_opts tsync_opts(const char *ns_addr)
{
    struct tern_client_opts o;
    tern_client_opts_init(&o);
    o.namesrv_addr = ns_addr;
    o.client_ip = "127.0.0.1";
    return o;
}

struct tern_sync *tsync_open(const char *ns_addr)
{
    struct tern_client_opts o = tsync_opts(ns_addr);
    struct tern_sync *s;
    char err[TERN_ERRMSG_SIZE];
    if (tern_sync_open(&o, &s, err) != 0)
        fail_msg("tern_sync_open: %s", err);
    return s;
}

void tsync_wait_broker(const char *ns_addr)
{
    struct tern_sync *s = tsync_open(ns_addr);
    const struct tern_cluster_info *ci = NULL;
    int64_t deadline = clock_mono_ms() + 15000;
    while ((tern_sync_cluster_info(s, &ci) != 0 || ci->broker_count == 0) && clock_mono_ms() < deadline)
        tern_sync_run(s, 200);
    assert_true(ci && ci->broker_count > 0);
    tern_sync_close(s);
}

bool tsync_loop_until(uv_loop_t *loop, bool (*pred)(void *), void *arg, int64_t ms)
{
    int64_t deadline = clock_mono_ms() + ms;
    while (!pred(arg)) {
        if (clock_mono_ms() > deadline)
            return false;
        uv_run(loop, UV_RUN_ONCE);
    }
    return true;
}
