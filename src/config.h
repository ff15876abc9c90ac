/* Table-driven configuration files in the RocketMQ broker.conf habit:
 * "key = value" lines, '#' comments. Each program describes its keys once in a
 * table (name, type, where the value goes, default, meaning); the same table
 * fills defaults, parses files, and prints the documentation. */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum config_type {
    CONFIG_STRING, /* char[size] inside the struct */
    CONFIG_INT,    /* int64_t; plain decimal */
    CONFIG_BYTES,  /* uint64_t; accepts suffixes k, m, g (powers of 1024) */
    CONFIG_MS,     /* int64_t milliseconds; accepts ms, s, m, h, d suffixes */
    CONFIG_BOOL,   /* bool; true/false/yes/no/on/off/1/0 */
};

struct config_key {
    const char *name;
    enum config_type type;
    size_t offset; /* offsetof the field in the target struct */
    size_t size;   /* CONFIG_STRING: capacity of the char array */
    const char *def;
    const char *doc;
    int64_t min, max; /* numeric bounds (inclusive); both 0 = unbounded */
};

/* Set every key of the table to its default. Returns 0 or TERN_E_INVAL (a bad
 * default is a programming error, reported rather than asserted). */
int config_defaults(const struct config_key *keys, size_t n, void *target, char *errmsg);
/* Set one key from text. TERN_E_NOTFOUND for an unknown key, TERN_E_INVAL for a
 * bad value; errmsg names the key and the problem. */
int config_set(const struct config_key *keys, size_t n, void *target, const char *key,
               const char *value, char *errmsg);
/* Parse a whole file; errors name the file and line. */
int config_load_file(const struct config_key *keys, size_t n, void *target, const char *path,
                     char *errmsg);
/* Print every key with its default and meaning, as a commented config file. */
void config_print_doc(const struct config_key *keys, size_t n, FILE *out);

/* A command-line flag that sets a key: {"--port", "listenPort"}. */
struct config_alias {
    const char *flag;
    const char *key;
};

/* Parse a server's command line into target: `-c FILE`, `--set key=value`,
 * the given aliases (each takes one value), `--print-config` (prints the
 * keys via print_doc) and `-h`/`--help` (prints usage). Errors go to stderr
 * prefixed with prog. Returns 0 to go on running, 1 when the program should
 * exit with status 0 (help, print-config), 2 on a usage or config error. */
int config_parse_args(const struct config_key *keys, size_t n, void *target, int argc, char **argv,
                      const struct config_alias *aliases, size_t naliases, const char *prog,
                      const char *usage, void (*print_doc)(FILE *out));

#endif
