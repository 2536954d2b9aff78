/* options: the command line of `akernel-gateway launch`. */
#ifndef AKG_OPTIONS_H
#define AKG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

struct gateway_options {
    unsigned modes;          /* MODE_* flags */
    char mode_name[64];      /* canonical spelling, "" for default */
    const char *connection_file; /* NULL: write a new one */
    int workers;             /* workers forked at start */
    int max_workers;         /* upper bound on live workers */
    bool isolate;            /* one worker per session */
    const char *preload;     /* comma-separated modules the zygote imports */
    enum log_level log_level;
    size_t worker_queue_limit; /* bytes queued to one worker before refusing */
};

/* Parse argv (argv[0] is the subcommand name). Returns 0, or -1 after
 * printing the problem and the usage to stderr. */
int options_parse_launch(int argc, char **argv, struct gateway_options *o);
void options_usage_launch(void);

#endif
