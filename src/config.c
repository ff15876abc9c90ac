/* Parsing and documenting "key = value" configuration files from a key table. */
#include "src/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "src/errmsg.h"
#include "tern/error.h"

static const struct config_key *find_key(const struct config_key *keys, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/* Parse a decimal with an optional unit suffix scaled by the matching factor. */
static int parse_scaled(const char *v, const char *const *units, const int64_t *factors, size_t nunits,
                        int64_t *out)
{
    errno = 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || errno != 0)
        return TERN_E_INVAL;
    while (*end == ' ')
        end++;
    int64_t f = 1;
    if (*end) {
        size_t i;
        for (i = 0; i < nunits; i++)
            if (strcasecmp(end, units[i]) == 0)
                break;
        if (i == nunits)
            return TERN_E_INVAL;
        f = factors[i];
    }
    if (f != 1 && (x > INT64_MAX / f || x < INT64_MIN / f))
        return TERN_E_INVAL;
    *out = (int64_t)x * f;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"};
    static const char *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return TERN_E_INVAL;
}

int config_set(const struct config_key *keys, size_t n, void *target, const char *key,
               const char *value, char *errmsg)
{
    static const char *byte_units[] = {"b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib"};
    static const int64_t byte_factors[] = {1, 1 << 10, 1 << 10, 1 << 10, 1 << 20, 1 << 20, 1 << 20, 1 << 30, 1 << 30, 1 << 30};
    static const char *ms_units[] = {"ms", "s", "m", "min", "h", "d"};
    static const int64_t ms_factors[] = {1, 1000, 60000, 60000, 3600000, 86400000};
    const struct config_key *k = find_key(keys, n, key);
    if (!k) {
        errmsg_printf(errmsg, "unknown key '%s'", key);
        return TERN_E_NOTFOUND;
    }
    char *field = (char *)target + k->offset;
    int64_t num = 0;
    int rv = 0;
    switch (k->type) {
    case CONFIG_STRING:
        if (strlen(value) >= k->size) {
            errmsg_printf(errmsg, "%s: value longer than %zu characters", key, k->size - 1);
            return TERN_E_INVAL;
        }
        strcpy(field, value);
        return 0;
    case CONFIG_BOOL: {
        bool b;
        if (parse_bool(value, &b) != 0) {
            errmsg_printf(errmsg, "%s: '%s' is not a boolean", key, value);
            return TERN_E_INVAL;
        }
        *(bool *)field = b;
        return 0;
    }
    case CONFIG_INT:
        rv = parse_scaled(value, NULL, NULL, 0, &num);
        break;
    case CONFIG_BYTES:
        rv = parse_scaled(value, byte_units, byte_factors, 10, &num);
        if (rv == 0 && num < 0)
            rv = TERN_E_INVAL;
        break;
    case CONFIG_MS:
        rv = parse_scaled(value, ms_units, ms_factors, 6, &num);
        break;
    }
    if (rv != 0) {
        errmsg_printf(errmsg, "%s: '%s' is not a valid %s", key, value,
                      k->type == CONFIG_BYTES ? "size" : k->type == CONFIG_MS ? "duration" : "integer");
        return TERN_E_INVAL;
    }
    if ((k->min || k->max) && (num < k->min || num > k->max)) {
        errmsg_printf(errmsg, "%s: %lld outside [%lld, %lld]", key, (long long)num, (long long)k->min,
                      (long long)k->max);
        return TERN_E_INVAL;
    }
    if (k->type == CONFIG_BYTES)
        *(uint64_t *)field = (uint64_t)num;
    else
        *(int64_t *)field = num;
    return 0;
}

int config_defaults(const struct config_key *keys, size_t n, void *target, char *errmsg)
{
    for (size_t i = 0; i < n; i++) {
        int rv = config_set(keys, n, target, keys[i].name, keys[i].def, errmsg);
        if (rv)
            return rv;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load_file(const struct config_key *keys, size_t n, void *target, const char *path,
                     char *errmsg)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        errmsg_printf(errmsg, "open %s: %s", path, strerror(errno));
        return errno == ENOENT ? TERN_E_NOTFOUND : TERN_E_IO;
    }
    char line[4096];
    int lineno = 0, rv = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            errmsg_printf(errmsg, "%s:%d: line too long", path, lineno);
            rv = TERN_E_INVAL;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            errmsg_printf(errmsg, "%s:%d: expected 'key = value'", path, lineno);
            rv = TERN_E_INVAL;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        rv = config_set(keys, n, target, key, value, errmsg);
        if (rv) {
            errmsg_wrapf(errmsg, "%s:%d", path, lineno);
            break;
        }
    }
    fclose(f);
    return rv;
}

void config_print_doc(const struct config_key *keys, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "# %s\n", keys[i].doc);
        fprintf(out, "%s = %s\n\n", keys[i].name, keys[i].def);
    }
}

int config_parse_args(const struct config_key *keys, size_t n, void *target, int argc, char **argv,
                      const struct config_alias *aliases, size_t naliases, const char *prog,
                      const char *usage, void (*print_doc)(FILE *out))
{
    char err[ERRMSG_SIZE];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rv = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(a, "--print-config") == 0) {
            print_doc(stdout);
            return 1;
        }
        const char *alias_key = NULL;
        for (size_t k = 0; k < naliases; k++)
            if (strcmp(a, aliases[k].flag) == 0)
                alias_key = aliases[k].key;
        if (!val || (strcmp(a, "-c") != 0 && strcmp(a, "--set") != 0 && !alias_key)) {
            fprintf(stderr, "%s: unknown or incomplete option '%s'\n%s", prog, a, usage);
            return 2;
        }
        i++;
        if (strcmp(a, "-c") == 0) {
            rv = config_load_file(keys, n, target, val, err);
        } else if (alias_key) {
            rv = config_set(keys, n, target, alias_key, val, err);
        } else {
            char kv[4096];
            snprintf(kv, sizeof kv, "%s", val);
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "%s: --set wants key=value, got '%s'\n", prog, val);
                return 2;
            }
            *eq = '\0';
            rv = config_set(keys, n, target, kv, eq + 1, err);
        }
        if (rv) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return 2;
        }
    }
    return 0;
}
