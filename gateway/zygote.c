/* zygote: the router's side of the zygote, the one process that embeds
 * Python before any worker exists and forks workers on request.
 *
 * The router starts it first thing, before it reads any key: the zygote is
 * exec'd from akernel-gateway-worker, so it never holds router memory. They
 * talk over a SOCK_SEQPACKET socket (fd 3 in the zygote), one text command
 * per packet:
 *   router -> zygote:  "spawn ID UID GID MEMORY" with the worker's channel fd
 *                      (SCM_RIGHTS): the worker runs as UID:GID, with an
 *                      address-space limit of MEMORY bytes (0: none)
 *   zygote -> router:  "ready", "spawned ID PID", "exited PID WAITSTATUS"
 * Workers are the zygote's children: it reaps them and reports how they
 * ended. A parent-death signal chains router -> zygote -> workers, so no
 * worker outlives the router, even a SIGKILLed one. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/gateway.h"

#define ZYGOTE_FD 3

/* akernel-gateway-worker lives next to akernel-gateway (build tree and
 * installed layout alike); AKERNEL_GATEWAY_WORKER overrides. */
static int worker_binary(char *out, size_t outlen)
{
    const char *env = getenv("AKERNEL_GATEWAY_WORKER");
    if (env && *env) {
        snprintf(out, outlen, "%s", env);
        return 0;
    }
    char self[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, outlen, "%s/akernel-gateway-worker", self);
    return 0;
}

/* In the child: clean signal state, the control socket on fd 3, exec. */
static void exec_zygote(const struct gateway_options *o, const char *path, int fd, pid_t router)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(fd, ZYGOTE_FD) < 0)
        _exit(127);
    close_range(ZYGOTE_FD + 1, ~0U, 0);
    char cache_size[32]; /* cache mode's settings, for the workers' Python */
    snprintf(cache_size, sizeof cache_size, "%zu", o->cache_size);
    setenv("AKERNEL_GATEWAY_CACHE_SIZE", cache_size, 1);
    if (o->cache_dir[0])
        setenv("AKERNEL_GATEWAY_CACHE_DIR", o->cache_dir, 1);
    char router_pid[16], modes[80], level[8];
    snprintf(router_pid, sizeof router_pid, "%d", (int)router);
    snprintf(modes, sizeof modes, "%s", o->mode_name[0] ? o->mode_name : "default");
    snprintf(level, sizeof level, "%d", (int)o->log_level);
    char *argv[] = {(char *)path, "--zygote", "--router-pid", router_pid, "--modes", modes,
                    "--log-level", level, "--preload", (char *)o->preload, NULL};
    execv(path, argv);
    fprintf(stderr, "akernel-gateway: cannot run %s: %s\n", path, strerror(errno));
    _exit(127);
}

int zygote_start(struct gateway *gw, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int sv[2];
    if (worker_binary(path, sizeof path) < 0 || access(path, X_OK) < 0) {
        snprintf(err, errlen, "cannot find the worker program akernel-gateway-worker (%s)", path);
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return -1;
    }
    pid_t router = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0)
        exec_zygote(&gw->opts, path, sv[1], router);
    close(sv[1]);
    gw->zygote.pid = pid;
    gw->zygote.fd = sv[0];
    log_debug("zygote started (pid %d)", (int)pid);
    return 0;
}

int zygote_spawn(struct gateway *gw, struct worker *w, int channel_fd)
{
    if (gw->zygote.fd < 0) {
        log_error("cannot start worker %u: the zygote is not running", w->id);
        return -1;
    }
    char text[96];
    int len = snprintf(text, sizeof text, "spawn %u %u %u %zu", w->id, (unsigned)w->owner.uid,
                       (unsigned)w->owner.gid, gw->opts.worker_memory);
    struct iovec iov = {text, (size_t)len};
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                         .msg_controllen = sizeof control.space};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &channel_fd, sizeof(int));
    if (sendmsg(gw->zygote.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        log_error("cannot ask the zygote for worker %u: %s", w->id, strerror(errno));
        return -1;
    }
    return 0;
}

static void on_spawned(struct gateway *gw, unsigned id, pid_t pid)
{
    for (struct worker *w = gw->workers; w; w = w->next) {
        if (w->id == id) {
            w->pid = pid;
            log_info("worker %u started (pid %d)", id, (int)pid);
            return;
        }
    }
    kill(pid, SIGKILL); /* a worker nobody waits for */
}

/* The zygote is gone (its socket closed): its workers went with it. */
static void zygote_lost(struct gateway *gw)
{
    close(gw->zygote.fd);
    gw->zygote.fd = -1;
    if (gw->zygote.pid > 0)
        waitpid(gw->zygote.pid, NULL, WNOHANG); /* else SIGCHLD reaps it */
    if (!gw->stopping)
        log_error("the zygote (pid %d) ended; restarting it", (int)gw->zygote.pid);
    gw->zygote.pid = 0;
    workers_lost(gw);
    gateway_poll_changed(gw);
    if (!gw->stopping) {
        char err[512];
        if (zygote_start(gw, err, sizeof err) < 0)
            log_error("%s", err);
    }
}

void zygote_on_readable(struct gateway *gw)
{
    for (int budget = 64; budget > 0 && gw->zygote.fd >= 0; budget--) {
        char text[128];
        ssize_t n = recv(gw->zygote.fd, text, sizeof text - 1, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            zygote_lost(gw);
            return;
        }
        text[n] = '\0';
        unsigned id;
        int pid, status;
        if (sscanf(text, "spawned %u %d", &id, &pid) == 2)
            on_spawned(gw, id, pid);
        else if (sscanf(text, "exited %d %d", &pid, &status) == 2)
            worker_exited(gw, pid, status);
        else if (strcmp(text, "ready") == 0)
            log_debug("zygote ready");
        else
            log_warn("zygote said something unexpected: %s", text);
    }
}

void zygote_stop(struct gateway *gw)
{
    if (gw->zygote.fd >= 0) {
        close(gw->zygote.fd); /* the zygote exits when its socket closes */
        gw->zygote.fd = -1;
    }
    if (gw->zygote.pid > 0) {
        kill(gw->zygote.pid, SIGKILL);
        waitpid(gw->zygote.pid, NULL, 0);
        gw->zygote.pid = 0;
    }
}
