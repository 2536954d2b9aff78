/* options: settings of launch and serve; see options.h. */
#include "gateway/options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/modes.h"
#include "gateway/client.h"

#define DEFAULT_CONFIG "/etc/akernel-gateway/gateway.conf"

enum value_kind { V_COUNT, V_BYTES, V_SECONDS, V_BOOL, V_TEXT, V_LEVEL, V_MODE };

struct setting {
    const char *name;
    enum value_kind kind;
    size_t offset, size;
    long min, max; /* for counts and seconds */
    const char *help;
};

#define FIELD(f) offsetof(struct gateway_options, f), sizeof(((struct gateway_options *)0)->f)

static const struct setting settings[] = {
    {"mode", V_MODE, FIELD(modes), 0, 0, "cache, multi, react, concurrent, joined with -"},
    {"workers", V_COUNT, FIELD(workers), 1, 4096, "worker processes to start (default: cores in multi mode, else 1)"},
    {"max-workers", V_COUNT, FIELD(max_workers), 1, 4096, "at most this many workers alive (default: 64)"},
    {"isolate", V_BOOL, FIELD(isolate), 0, 0, "give every session a worker of its own"},
    {"preload", V_TEXT, FIELD(preload), 0, 0, "comma-separated modules the zygote imports once"},
    {"log-level", V_LEVEL, FIELD(log_level), 0, 0, "error, warn, info (default) or debug"},
    {"worker-queue-limit", V_BYTES, FIELD(worker_queue_limit), 0, 0,
     "bytes queued to one worker before new requests are refused (default: 256M)"},
    {"max-message-size", V_BYTES, FIELD(max_message_size), 0, 0,
     "a request over this size is refused with an error (default: 128M)"},
    {"cache-dir", V_TEXT, FIELD(cache_dir), 0, 0,
     "cache mode's store (default: each user's $XDG_CACHE_HOME/akernel-gateway)"},
    {"cache-size", V_BYTES, FIELD(cache_size), 0, 0, "cache mode: size of the store before eviction (default: 1G)"},
    {"socket", V_TEXT, FIELD(socket_path), 0, 0, "serve: the control socket attach and status use"},
    {"worker-memory", V_BYTES, FIELD(worker_memory), 0, 0, "serve: memory (address space) per worker, e.g. 4G"},
    {"cull-idle", V_SECONDS, FIELD(cull_idle), 0, 31536000, "serve: drop a frontend after this many idle seconds"},
    {"max-frontends", V_COUNT, FIELD(max_frontends), 1, 1000000, "serve: attached notebooks at once (default: 1000)"},
    {"max-sessions", V_COUNT, FIELD(max_sessions), 1, 1000000,
     "sessions known at once (default: 10000); where they share a namespace (launch, not multi), "
     "the one idle longest is forgotten to make room"},
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

static int parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "1048576", "512K", "2M", "4G" */
static int parse_bytes(const char *text, size_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)text[0])) /* strtoull would take " -1" */
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    if (*end && strchr("kKmMgGtT", *end)) {
        shift = *end == 'k' || *end == 'K' ? 10 : *end == 'm' || *end == 'M' ? 20 : *end == 'g' || *end == 'G' ? 30 : 40;
        end++;
        if (*end == 'i' || *end == 'B')
            end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    }
    if (*end != '\0' || v > (~0ULL >> shift))
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

static int parse_bool(const char *text, bool *out)
{
    if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcmp(text, "1") || !strcasecmp(text, "on"))
        *out = true;
    else if (!strcasecmp(text, "false") || !strcasecmp(text, "no") || !strcmp(text, "0") || !strcasecmp(text, "off"))
        *out = false;
    else
        return -1;
    return 0;
}

static int set_value(const struct setting *s, void *field, const char *value, char *err, size_t errlen)
{
    long n;
    int level;
    switch (s->kind) {
    case V_COUNT:
    case V_SECONDS:
        if (parse_long(value, s->min, s->max, &n) < 0) {
            snprintf(err, errlen, "%s needs a whole number from %ld to %ld, not \"%s\"", s->name, s->min,
                     s->max, value);
            return -1;
        }
        *(int *)field = (int)n;
        return 0;
    case V_BYTES:
        if (parse_bytes(value, (size_t *)field) < 0) {
            snprintf(err, errlen, "%s needs a size in bytes (e.g. 4096, 512K, 2G), not \"%s\"", s->name, value);
            return -1;
        }
        return 0;
    case V_BOOL:
        if (parse_bool(value, (bool *)field) < 0) {
            snprintf(err, errlen, "%s needs true or false, not \"%s\"", s->name, value);
            return -1;
        }
        return 0;
    case V_TEXT:
        if (strlen(value) >= s->size) {
            snprintf(err, errlen, "%s is longer than %zu characters", s->name, s->size - 1);
            return -1;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case V_LEVEL:
        if ((level = log_level_parse(value)) < 0) {
            snprintf(err, errlen, "%s needs error, warn, info or debug, not \"%s\"", s->name, value);
            return -1;
        }
        *(enum log_level *)field = (enum log_level)level;
        return 0;
    case V_MODE:
        return modes_parse(value, (unsigned *)field, err, errlen);
    }
    return -1;
}

int options_set(struct gateway_options *o, const char *name, const char *value, char *err, size_t errlen)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (same_name(settings[i].name, name))
            return set_value(&settings[i], (char *)o + settings[i].offset, value, err, errlen);
    snprintf(err, errlen, "unknown option \"%s\"", name);
    return -1;
}

struct ini_state {
    struct gateway_options *o;
    char err[512];
};

static int on_ini_line(void *user, const char *section, const char *name, const char *value)
{
    struct ini_state *st = user;
    if (st->err[0])
        return 1; /* report the first problem only */
    if (section[0] && strcmp(section, "gateway") != 0) {
        snprintf(st->err, sizeof st->err, "unknown section [%s] (settings go in [gateway] or before any section)",
                 section);
        return 0;
    }
    if (!value) {
        snprintf(st->err, sizeof st->err, "\"%s\" has no value (write %s = VALUE)", name, name);
        return 0;
    }
    return options_set(st->o, name, value, st->err, sizeof st->err) == 0;
}

int options_load_file(struct gateway_options *o, const char *path, char *err, size_t errlen)
{
    struct ini_state st = {.o = o};
    int line = ini_parse(path, on_ini_line, &st);
    if (line == -1)
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    else if (line == -2)
        snprintf(err, errlen, "%s: out of memory", path);
    else if (line > 0)
        snprintf(err, errlen, "%s:%d: %s", path, line, st.err[0] ? st.err : "not a \"name = value\" line");
    return line == 0 ? 0 : -1;
}

void options_usage(enum gateway_command command)
{
    if (command == CMD_LAUNCH)
        fprintf(stderr, "usage: akernel-gateway launch [MODE] [-f CONNECTION_FILE] [options]\n"
                        "  -f, --connection-file FILE  Jupyter connection file (default: write a new one)\n");
    else
        fprintf(stderr, "usage: akernel-gateway [serve] [MODE] [--config FILE] [options]\n"
                        "  --config FILE        settings file (default: " DEFAULT_CONFIG " if it exists);\n"
                        "                       the command line overrides it\n");
    fprintf(stderr, "  MODE                 cache, multi, react, concurrent, or several joined with '-'\n");
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (s->kind == V_MODE || (command == CMD_LAUNCH && strncmp(s->help, "serve:", 6) == 0))
            continue;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", s->name, s->kind == V_BOOL ? "" : " VALUE");
        fprintf(stderr, "  %-27s %s\n", flag, s->help);
    }
}

static void set_defaults(enum gateway_command command, struct gateway_options *o)
{
    memset(o, 0, sizeof *o);
    o->command = command;
    o->workers = -1;
    o->max_workers = 64;
    o->log_level = LOG_LEVEL_INFO;
    o->worker_queue_limit = 256u << 20;
    o->max_message_size = 128u << 20;
    o->cache_size = 1u << 30;
    o->max_frontends = 1000;
    o->max_sessions = 10000;
}

static void finish_defaults(struct gateway_options *o)
{
    if (o->command == CMD_SERVE)
        o->modes |= MODE_MULTI; /* notebooks of many people: a namespace per session */
    modes_format(o->modes, o->mode_name, sizeof o->mode_name);
    if (o->workers < 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o->workers = (o->modes & MODE_MULTI) && !o->isolate && cores > 1 ? (int)cores : 1;
    }
    if (o->isolate)
        o->workers = 0; /* forked on demand, one per session */
    if (o->workers > o->max_workers)
        o->max_workers = o->workers;
    if (!o->socket_path[0])
        service_socket_path(o->socket_path, sizeof o->socket_path);
}

/* serve reads its config file before the command line, which overrides it. */
static int load_config(int argc, char **argv, struct gateway_options *o)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    if (!path && access(DEFAULT_CONFIG, F_OK) != 0)
        return 0;
    char err[768];
    if (options_load_file(o, path ? path : DEFAULT_CONFIG, err, sizeof err) < 0) {
        fprintf(stderr, "akernel-gateway: %s\n", err);
        return -1;
    }
    return 0;
}

int options_parse(enum gateway_command command, int argc, char **argv, struct gateway_options *o)
{
    struct option longopts[NSETTINGS + 3];
    size_t n = 0;
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].kind != V_MODE)
            longopts[n++] = (struct option){settings[i].name, settings[i].kind == V_BOOL ? no_argument
                                                                                        : required_argument,
                                            NULL, (int)(1000 + i)};
    longopts[n++] = (struct option){"connection-file", required_argument, NULL, 'f'};
    longopts[n++] = (struct option){"config", required_argument, NULL, 'c'};
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    set_defaults(command, o);
    if (command == CMD_SERVE && load_config(argc, argv, o) < 0)
        return -1;
    optind = 1;
    int c;
    char err[512];
    while ((c = getopt_long(argc, argv, command == CMD_LAUNCH ? "f:" : "", longopts, NULL)) != -1) {
        if (c == 'f' && command == CMD_LAUNCH) {
            o->connection_file = optarg;
        } else if (c == 'c' && command == CMD_SERVE) {
            continue; /* read above */
        } else if (c >= 1000 && (size_t)(c - 1000) < NSETTINGS) {
            const struct setting *s = &settings[c - 1000];
            if (set_value(s, (char *)o + s->offset, s->kind == V_BOOL ? "true" : optarg, err, sizeof err) < 0) {
                fprintf(stderr, "akernel-gateway: --%s\n", err);
                return -1;
            }
        } else {
            options_usage(command);
            return -1;
        }
    }
    if (optind < argc && options_set(o, "mode", argv[optind], err, sizeof err) == 0)
        optind++;
    else if (optind < argc && argv[optind][0] != '-') {
        fprintf(stderr, "akernel-gateway: %s\n", err);
        return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "akernel-gateway: unexpected argument \"%s\"\n", argv[optind]);
        options_usage(command);
        return -1;
    }
    finish_defaults(o);
    return 0;
}
