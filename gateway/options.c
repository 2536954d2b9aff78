/* options: parse `akernel-gateway launch [MODE] [options]`. */
#include "gateway/options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/modes.h"

void options_usage_launch(void)
{
    fprintf(stderr,
            "usage: akernel-gateway launch [MODE] [-f CONNECTION_FILE] [options]\n"
            "  MODE                 cache, multi, react, concurrent, or several joined\n"
            "                       with '-' (e.g. multi-concurrent); default: chained cells\n"
            "  -f, --connection-file FILE  Jupyter connection file (default: write a new one)\n"
            "  --workers N          worker processes to start (default: cores in multi\n"
            "                       mode, 1 otherwise)\n"
            "  --max-workers N      at most N workers alive (default: 64)\n"
            "  --isolate            give every session a worker of its own\n"
            "  --preload MODULES    comma-separated modules the zygote imports once\n"
            "  --worker-queue-limit BYTES  requests queued to one worker before new ones\n"
            "                       are refused with an error (default: 256 MiB)\n"
            "  --log-level LEVEL    error, warn, info (default) or debug\n");
}

static int parse_count(const char *flag, const char *text, int min, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > 4096) {
        fprintf(stderr, "akernel-gateway: %s needs a number from %d to 4096, not \"%s\"\n", flag,
                min, text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

enum { OPT_WORKERS = 1000, OPT_MAX_WORKERS, OPT_ISOLATE, OPT_PRELOAD, OPT_LOG_LEVEL, OPT_QUEUE_LIMIT };

static int parse_bytes(const char *flag, const char *text, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (*text == '\0' || *text == '-' || *end != '\0' || v < 1024) {
        fprintf(stderr, "akernel-gateway: %s needs a number of bytes (at least 1024), not \"%s\"\n",
                flag, text);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static int parse_option(int c, struct gateway_options *o)
{
    int level;
    switch (c) {
    case 'f': o->connection_file = optarg; return 0;
    case OPT_WORKERS: return parse_count("--workers", optarg, 1, &o->workers);
    case OPT_MAX_WORKERS: return parse_count("--max-workers", optarg, 1, &o->max_workers);
    case OPT_ISOLATE: o->isolate = true; return 0;
    case OPT_PRELOAD: o->preload = optarg; return 0;
    case OPT_QUEUE_LIMIT: return parse_bytes("--worker-queue-limit", optarg, &o->worker_queue_limit);
    case OPT_LOG_LEVEL:
        level = log_level_parse(optarg);
        if (level < 0) {
            fprintf(stderr, "akernel-gateway: unknown log level \"%s\"\n", optarg);
            return -1;
        }
        o->log_level = (enum log_level)level;
        return 0;
    default: return -1;
    }
}

int options_parse_launch(int argc, char **argv, struct gateway_options *o)
{
    static const struct option longopts[] = {
        {"connection-file", required_argument, NULL, 'f'},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"max-workers", required_argument, NULL, OPT_MAX_WORKERS},
        {"isolate", no_argument, NULL, OPT_ISOLATE},
        {"preload", required_argument, NULL, OPT_PRELOAD},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"worker-queue-limit", required_argument, NULL, OPT_QUEUE_LIMIT},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->workers = 0;
    o->max_workers = 64;
    o->log_level = LOG_LEVEL_INFO;
    o->worker_queue_limit = 256u << 20;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
        if (parse_option(c, o) < 0) {
            options_usage_launch();
            return -1;
        }
    }
    if (optind < argc) {
        char err[256];
        if (modes_parse(argv[optind], &o->modes, err, sizeof err) < 0) {
            fprintf(stderr, "akernel-gateway: %s\n", err);
            return -1;
        }
        optind++;
    }
    if (optind < argc) {
        fprintf(stderr, "akernel-gateway: unexpected argument \"%s\"\n", argv[optind]);
        options_usage_launch();
        return -1;
    }
    modes_format(o->modes, o->mode_name, sizeof o->mode_name);
    if (o->workers == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o->workers = (o->modes & MODE_MULTI) && !o->isolate && cores > 1 ? (int)cores : 1;
    }
    if (o->isolate)
        o->workers = 0; /* forked on demand, one per session */
    if (o->workers > o->max_workers)
        o->max_workers = o->workers;
    return 0;
}
