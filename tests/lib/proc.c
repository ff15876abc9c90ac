/* Process control for tests that run the real server binaries. */
#include "tests/lib/proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/testlib.h"

#define MAX_CHILDREN 64
static pid_t children[MAX_CHILDREN];
static bool atexit_done;

static void kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
    }
}

static void track(pid_t pid, bool add)
{
    if (!atexit_done) {
        atexit(kill_children);
        atexit_done = true;
    }
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (add && children[i] == 0) {
            children[i] = pid;
            return;
        }
        if (!add && children[i] == pid) {
            children[i] = 0;
            return;
        }
    }
}

const char *proc_bin(const char *name, char *out, size_t cap)
{
    const char *dir = getenv("TERN_BIN_DIR");
    assert_non_null(dir);
    int n = snprintf(out, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
    return out;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void proc_release(struct proc *p)
{
    assert_int_equal(p->pid, 0);
    for (int i = 0; i < PROC_MAX_ARGS && p->argv[i]; i++) {
        free(p->argv[i]);
        p->argv[i] = NULL;
    }
}

void proc_start(struct proc *p, const char *const argv[], const char *logpath)
{
    proc_release(p);
    memset(p, 0, sizeof *p);
    int i;
    for (i = 0; argv[i] && i < PROC_MAX_ARGS; i++)
        p->argv[i] = strdup(argv[i]);
    p->argv[i] = NULL;
    snprintf(p->log, sizeof p->log, "%s", logpath);
    proc_restart(p);
}

void proc_restart(struct proc *p)
{
    assert_int_equal(p->pid, 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(p->argv[0], p->argv);
        fprintf(stderr, "exec %s: %s\n", p->argv[0], strerror(errno));
        _exit(127);
    }
    p->pid = pid;
    track(pid, true);
}

void proc_signal(struct proc *p, int sig)
{
    if (p->pid > 0)
        kill(p->pid, sig);
}

bool proc_wait(struct proc *p, int timeout_ms)
{
    if (p->pid <= 0)
        return true;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid) {
            track(p->pid, false);
            p->pid = 0;
            return true;
        }
        sleep_ms(10);
    }
    return false;
}

void proc_stop(struct proc *p, int timeout_ms)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    if (!proc_wait(p, timeout_ms))
        proc_kill9(p);
}

void proc_kill9(struct proc *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &p->status, 0);
    track(p->pid, false);
    p->pid = 0;
}

static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int proc_free_port(bool pair)
{
    /* Below Linux's ephemeral range (32768-60999): an outgoing connection's
     * source port can never take a port we picked before we bind it. */
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (int tries = 0; tries < 1000; tries++) {
        int port = 20002 + (int)(rand_r(&seed) % 12000);
        if (port_free(port) && (!pair || port_free(port - 2)))
            return port;
    }
    fail_msg("no free port found");
    return -1;
}

bool proc_wait_port(int port, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rv = connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rv == 0)
            return true;
        sleep_ms(20);
    }
    return false;
}

void proc_dump_log(const struct proc *p, int lines)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tail -n %d '%s' >&2", lines, p->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log at %s)\n", p->log);
}
