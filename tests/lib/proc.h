/* Real processes for integration and system tests: spawn tern-namesrv and
 * tern-broker, wait for their ports, kill -9, stop, restart. Every spawned
 * process is killed at exit even when a test fails half-way. */
#ifndef TERN_PROC_H
#define TERN_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/wait.h> /* WIFEXITED and friends for struct proc status */

#define PROC_MAX_ARGS 32

struct proc {
    pid_t pid; /* 0 when not running */
    int status; /* wait status after exit */
    char log[512];
    char *argv[PROC_MAX_ARGS + 1];
};

/* Path of a built program ("tern-broker") from $TERN_BIN_DIR; fails the test
 * if unset. */
const char *proc_bin(const char *name, char *out, size_t cap);
/* Start argv (NULL-terminated) with stdout+stderr appended to logpath. */
void proc_start(struct proc *p, const char *const argv[], const char *logpath);
/* Start again with the same argv and log. */
void proc_restart(struct proc *p);
/* Send a signal (no-op if not running). */
void proc_signal(struct proc *p, int sig);
/* Wait up to timeout_ms for exit; true if it exited (status in p->status). */
bool proc_wait(struct proc *p, int timeout_ms);
/* SIGTERM, then SIGKILL after timeout_ms; always reaps. */
void proc_stop(struct proc *p, int timeout_ms);
/* kill -9 and reap. */
void proc_kill9(struct proc *p);
/* A TCP port on 127.0.0.1 that was free a moment ago; with pair, port-2 too. */
int proc_free_port(bool pair);
/* Poll until 127.0.0.1:port accepts connections; false on timeout. */
bool proc_wait_port(int port, int timeout_ms);
/* Free the copied argv (the process must have been stopped). */
void proc_release(struct proc *p);
/* Print the last lines of a process log to stderr (for failing tests). */
void proc_dump_log(const struct proc *p, int lines);

#endif
