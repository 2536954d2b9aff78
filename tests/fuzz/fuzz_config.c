/* fuzz_config: serve's config file parser (gateway/options.c
 * options_load_file, through libinih and options_set: sizes, counts,
 * booleans, modes, log levels, text settings), as /etc/akernel-gateway/
 * gateway.conf or `serve --config FILE` is read.
 *
 * Input: the raw bytes of the file. options_load_file reads a path, so the
 * input is written to /tmp/akg-fuzz-config-PID.conf (one file per process,
 * rewritten for every input, removed at exit). On success the settings
 * must lie within their documented ranges, and the mode must survive
 * modes_format and modes_parse; on failure the reason names the file. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/modes.h"
#include "gateway/options.h"
#include "tests/fuzz/fuzz.h"

static char path[64];

static void remove_file(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/akg-fuzz-config-%d.conf", (int)getpid());
    atexit(remove_file);
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        CHECK(n > 0);
        done += (size_t)n;
    }
    CHECK(close(fd) == 0);
}

/* serve's defaults before the file is read (options.c set_defaults). */
static void defaults(struct gateway_options *o)
{
    memset(o, 0, sizeof *o);
    o->command = CMD_SERVE;
    o->workers = -1;
    o->max_workers = 64;
    o->log_level = LOG_LEVEL_INFO;
    o->worker_queue_limit = 256u << 20;
    o->max_frontends = 1000;
    o->max_sessions = 10000;
}

static int terminated(const char *s, size_t cap) { return memchr(s, '\0', cap) != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    struct gateway_options o;
    defaults(&o);
    char err[768];
    memset(err, 0, sizeof err);
    if (options_load_file(&o, path, err, sizeof err) != 0) {
        CHECK(terminated(err, sizeof err) && strncmp(err, path, strlen(path)) == 0);
        return 0;
    }
    CHECK(o.command == CMD_SERVE && o.connection_file == NULL);
    CHECK(o.workers == -1 || (o.workers >= 1 && o.workers <= 4096));
    CHECK(o.max_workers >= 1 && o.max_workers <= 4096);
    CHECK(o.cull_idle >= 0 && o.cull_idle <= 31536000);
    CHECK(o.max_frontends >= 1 && o.max_frontends <= 1000000);
    CHECK(o.max_sessions >= 1 && o.max_sessions <= 1000000);
    CHECK(o.log_level >= LOG_LEVEL_ERROR && o.log_level <= LOG_LEVEL_DEBUG);
    CHECK(terminated(o.preload, sizeof o.preload) && terminated(o.socket_path, sizeof o.socket_path));
    CHECK(o.mode_name[0] == '\0'); /* filled in by options_parse, not by the file */
    CHECK((o.modes & ~(unsigned)(MODE_CACHE | MODE_MULTI | MODE_REACT | MODE_CONCURRENT)) == 0);
    char name[64], why[256];
    unsigned again = ~0u;
    modes_format(o.modes, name, sizeof name);
    CHECK(modes_parse(name, &again, why, sizeof why) == 0 && again == o.modes);
    return 0;
}
