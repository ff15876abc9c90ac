/* System: a broker whose data directory is a small tmpfs. When the disk fills,
 * sends are refused with SERVICE_NOT_AVAILABLE and a "disk full" remark, reads
 * keep working, sends resume by themselves once space is freed, and every
 * acknowledged message is still there. Each message carries 32 KEYS, so the
 * key index (a mapped file: a store into a page without a disk block under
 * it raises SIGBUS) grows while the disk fills. Needs root for the mount;
 * skipped otherwise (CI runs as root). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/codes.h"
#include "protocol/properties.h"
#include "src/buf.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

#define FS_BYTES (24u << 20)
#define FILLER_BYTES (8u << 20)
#define MSG_BYTES 4096

static char dir[512], data[600], filler[700];
static bool mounted;
static struct buf props;

/* A message with 32 KEYS tokens: 32 key index entries. */
static int send_keyed(struct rpcsync *s, const void *body, size_t n, int seq)
{
    char keys[32 * 16];
    size_t len = 0;
    for (int k = 0; k < 32; k++)
        len += (size_t)snprintf(keys + len, sizeof keys - len, "%sm%d-%d", k ? " " : "", seq, k);
    buf_reset(&props);
    properties_append(&props, MSG_PROP_KEYS, keys, len);
    return tclient_send_props(s, "Full", 0, 1, &props, body, n, NULL);
}

static void test_disk_full_refuses_then_resumes(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        fprintf(stderr, "skipped: mounting a small tmpfs needs root\n");
        skip();
    }
    buf_init(&props);
    testlib_tmpdir(dir, sizeof dir, "disk-full");
    snprintf(data, sizeof data, "%s/data", dir);
    assert_int_equal(mkdir(data, 0755), 0);
    char opts[64];
    snprintf(opts, sizeof opts, "size=%u", FS_BYTES);
    if (mount("tmpfs", data, "tmpfs", 0, opts) != 0) {
        fprintf(stderr, "skipped: mount tmpfs: %s\n", strerror(errno));
        testlib_rmtree(dir);
        skip();
    }
    mounted = true;
    /* Space the test gives back later. */
    snprintf(filler, sizeof filler, "%s/filler", data);
    int fd = open(filler, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    static char zeros[1 << 16];
    memset(zeros, 'f', sizeof zeros);
    for (unsigned i = 0; i < FILLER_BYTES / sizeof zeros; i++)
        assert_int_equal(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
    close(fd);

    char bin[512], log[700], set_port[64], set_dir[700];
    int port = proc_free_port(true);
    snprintf(log, sizeof log, "%s/broker.log", dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", port);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/broker", data);
    const char *argv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                          "--set", "namesrvAddr=", "--set", "brokerIP1=127.0.0.1", "--set", "diskMinFreeBytes=0",
                          "--set", "segmentBytes=2m", NULL};
    struct proc broker = {0};
    proc_start(&broker, argv, log);
    assert_true(proc_wait_port(port, 10000));
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    struct rpcsync s;
    rpcsync_open(&s, addr);

    static char body[MSG_BYTES];
    memset(body, 'm', sizeof body);
    int acked = 0, code = 0;
    for (int i = 0; i < (int)(FS_BYTES / MSG_BYTES) * 2; i++) {
        code = send_keyed(&s, body, sizeof body, i);
        if (code != CODES_RESP_SUCCESS)
            break;
        acked++;
    }
    assert_int_equal(code, CODES_RESP_SERVICE_NOT_AVAILABLE);
    assert_non_null(memmem(s.resp.remark.p, s.resp.remark.len, "disk full", 9));
    assert_true(acked > 100);

    /* Reads keep working while the disk is full. */
    assert_int_equal(tclient_queue_offset(&s, CODES_REQ_GET_MAX_OFFSET, "Full", 0), acked);
    assert_int_equal(tclient_pull(&s, "cg", "Full", 0, 0, 32), CODES_RESP_SUCCESS);
    assert_int_equal(tclient_count_records(&s), 32);

    /* Free space: sends resume by themselves (bounded wait). */
    assert_int_equal(unlink(filler), 0);
    int resumed = 0;
    for (int i = 0; i < 200 && !resumed; i++) {
        if (send_keyed(&s, body, sizeof body, 1000000 + i) == CODES_RESP_SUCCESS)
            resumed = 1;
        else
            rpcsync_run_for(&s, 50);
    }
    assert_true(resumed);

    /* Every acknowledged message is readable, in order, nothing extra. */
    int64_t total = 0;
    int code_pull;
    while ((code_pull = tclient_pull(&s, "cg", "Full", 0, total, 32)) == CODES_RESP_SUCCESS)
        total += tclient_count_records(&s);
    assert_int_equal(code_pull, CODES_RESP_PULL_NOT_FOUND);
    assert_int_equal(total, acked + 1);

    rpcsync_close(&s);
    proc_stop(&broker, 10000);
    assert_true(WIFEXITED(broker.status) && WEXITSTATUS(broker.status) == 0);
    proc_release(&broker);
    buf_free(&props);
}

static int teardown(void **state)
{
    (void)state;
    if (mounted)
        umount2(data, MNT_DETACH);
    if (dir[0])
        testlib_rmtree(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_disk_full_refuses_then_resumes, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
