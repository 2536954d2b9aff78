/* systemd: what the service tells its service manager. With libsystemd
 * (optional at build time) it takes a pre-bound control socket from socket
 * activation (sd_listen_fds), says READY=1 once listening, STOPPING=1 when
 * it stops, STATUS= with its counts, and WATCHDOG=1 when WatchdogSec is
 * set. Without libsystemd, or not under systemd, these do nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gateway.h"

#ifdef AKG_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

int systemd_listen_fd(void)
{
    int n = sd_listen_fds(1);
    if (n < 1)
        return -1;
    if (n > 1)
        log_warn("systemd passed %d sockets; using the first", n);
    int fd = SD_LISTEN_FDS_START;
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
        log_error("the socket systemd passed is not a listening Unix stream socket");
        return -1;
    }
    /* the loop must never block on accept() */
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        log_error("cannot make the systemd socket non-blocking: %s", strerror(errno));
        return -1;
    }
    return fd;
}

static void status_text(struct gateway *gw, char *out, size_t outlen)
{
    unsigned frontends = 0, workers = 0;
    for (struct frontend *fe = gw->frontends; fe; fe = fe->next)
        frontends += !fe->dropped;
    for (struct worker *w = gw->workers; w; w = w->next)
        workers += w->state != WORKER_DEAD;
    snprintf(out, outlen, "STATUS=%u notebooks, %u sessions, %u workers", frontends,
             HASH_COUNT(gw->sessions), workers);
}

void systemd_notify_ready(struct gateway *gw)
{
    char status[128];
    status_text(gw, status, sizeof status);
    sd_notifyf(0, "READY=1\n%s\nMAINPID=%d", status, (int)getpid());
}

void systemd_notify_status(struct gateway *gw)
{
    static char last[128];
    char status[128];
    if (gw->opts.command != CMD_SERVE)
        return;
    status_text(gw, status, sizeof status);
    if (strcmp(status, last) != 0) { /* only changes */
        snprintf(last, sizeof last, "%s", status);
        sd_notify(0, status);
    }
}

void systemd_notify_stopping(void) { sd_notify(0, "STOPPING=1"); }

int systemd_watchdog_ms(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    return (int)(usec / 2000); /* ping twice per period */
}

void systemd_watchdog_ping(void) { sd_notify(0, "WATCHDOG=1"); }

#else

int systemd_listen_fd(void) { return -1; }
void systemd_notify_ready(struct gateway *gw) { (void)gw; }
void systemd_notify_status(struct gateway *gw) { (void)gw; }
void systemd_notify_stopping(void) {}
int systemd_watchdog_ms(void) { return 0; }
void systemd_watchdog_ping(void) {}

#endif
