/* options: the settings of `launch` and `serve`, from the command line and
 * (for serve) a config file. Both go through one table of named settings,
 * so a setting is parsed the same way wherever it comes from, and a bad
 * one is reported with where it came from (a flag, or FILE:LINE). */
#ifndef AKG_OPTIONS_H
#define AKG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

enum gateway_command { CMD_LAUNCH, CMD_SERVE };

struct gateway_options {
    enum gateway_command command;
    unsigned modes;              /* MODE_* flags */
    char mode_name[64];          /* canonical spelling, "" for default */
    const char *connection_file; /* launch: NULL writes a new one */
    int workers;                 /* workers forked at start (-1: default) */
    int max_workers;             /* upper bound on live workers */
    bool isolate;                /* one worker per session */
    char preload[1024];          /* comma-separated modules the zygote imports */
    enum log_level log_level;
    size_t worker_queue_limit; /* bytes queued to one worker before refusing */
    size_t max_message_size;   /* a request larger than this is refused */
    char cache_dir[512];       /* cache mode's store ("": the user's cache dir) */
    size_t cache_size;         /* bytes before least-recently-used entries go */
    /* serve */
    char socket_path[256];   /* control socket */
    size_t worker_memory;    /* address-space limit per worker, 0: none */
    int cull_idle;           /* seconds without requests before a frontend goes, 0: never */
    int max_frontends;       /* attached notebooks at once */
    int max_sessions;        /* sessions at once, over all frontends */
};

/* Parse argv for a command (argv[0] is the command name). For serve, the
 * config file (--config, else /etc/akernel-gateway/gateway.conf if it
 * exists) is read first and the command line overrides it. Returns 0, or
 * -1 after printing the problem to stderr. */
int options_parse(enum gateway_command command, int argc, char **argv, struct gateway_options *o);
void options_usage(enum gateway_command command);

/* Set one named setting ("workers", "cull-idle", ...; '_' and '-' are the
 * same) from text. Returns 0, or -1 with the reason in err. */
int options_set(struct gateway_options *o, const char *name, const char *value, char *err, size_t errlen);

/* Read settings from an ini file ("name = value" lines, optional
 * [gateway] section). Returns 0, or -1 with "FILE:LINE: reason" in err. */
int options_load_file(struct gateway_options *o, const char *path, char *err, size_t errlen);

#endif
