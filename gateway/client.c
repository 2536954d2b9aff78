/* client: `akernel-gateway attach` and `akernel-gateway status`, the
 * clients of serve's control socket (see control.c for the protocol).
 *
 * attach is what a notebook's kernelspec runs: it hands the connection file
 * to the service, then lives as long as the notebook's frontend does, so
 * Jupyter sees a kernel process: SIGINT to it interrupts the notebook's
 * cells, SIGTERM shuts the notebook down, and it exits when the service
 * drops the notebook. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/connfile.h"
#include "gateway/client.h"

#define REPLY_TIMEOUT_MS 30000

void service_socket_path(char *out, size_t outlen)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (geteuid() == 0)
        snprintf(out, outlen, "%s", SYSTEM_SOCKET);
    else if (xdg && *xdg)
        snprintf(out, outlen, "%s/akernel-gateway/gateway.sock", xdg);
    else
        snprintf(out, outlen, "/tmp/akernel-gateway-%u/gateway.sock", (unsigned)geteuid());
}

void client_default_socket(char *out, size_t outlen)
{
    service_socket_path(out, outlen);
    if (access(out, F_OK) != 0)
        snprintf(out, outlen, "%s", SYSTEM_SOCKET);
}

static int connect_socket(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "akernel-gateway: socket path too long: %s\n", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1); /* length checked above */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "akernel-gateway: cannot reach the service at %s: %s (is `akernel-gateway serve` running?)\n",
                path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int send_json(int fd, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return -1;
    size_t len = strlen(text);
    int ok = send(fd, text, len, MSG_NOSIGNAL) == (ssize_t)len && send(fd, "\n", 1, MSG_NOSIGNAL) == 1;
    free(text);
    return ok ? 0 : -1;
}

/* Read one line (without the newline) into `in`; NULL at EOF or timeout. */
static json_t *read_reply(int fd, struct buf *in, int timeout_ms)
{
    for (;;) {
        char *nl = buf_find(in, '\n');
        if (nl) {
            json_t *reply = json_loadb(buf_head(in), (size_t)(nl - buf_head(in)), 0, NULL);
            buf_consume(in, (size_t)(nl - buf_head(in)) + 1);
            return reply;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0 || buf_reserve(in, 4096) < 0)
            return NULL;
        ssize_t n = recv(fd, in->data + in->len, in->cap - in->len, 0);
        if (n <= 0)
            return NULL;
        in->len += (size_t)n;
    }
}

static const char *reply_error(json_t *reply)
{
    json_t *status = json_object_get(reply, "status");
    if (json_is_string(status) && strcmp(json_string_value(status), "ok") == 0)
        return NULL;
    json_t *message = json_object_get(reply, "message");
    return json_is_string(message) ? json_string_value(message) : "no valid reply from the service";
}

static int open_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

/* Relay signals until the service closes the connection. */
static int relay(int fd, struct buf *in)
{
    int sigfd = open_signals();
    bool stopping = false;
    for (;;) {
        struct pollfd p[] = {{fd, POLLIN, 0}, {sigfd, POLLIN, 0}};
        if (poll(p, 2, stopping ? 10000 : -1) == 0)
            return 1; /* the service did not drop us after a shutdown */
        if (p[1].revents) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == sizeof si) {
                bool interrupt = si.ssi_signo == SIGINT;
                stopping |= !interrupt;
                send_json(fd, json_pack("{s:s}", "command", interrupt ? "interrupt" : "shutdown"));
            }
        }
        if (p[0].revents) {
            if (buf_reserve(in, 4096) < 0)
                return 1;
            ssize_t n = recv(fd, in->data + in->len, in->cap - in->len, 0);
            if (n <= 0)
                return 0; /* the service dropped this notebook */
            buf_reset(in); /* acknowledgements of interrupts: nothing to do */
        }
    }
}

static json_t *read_connection_file(const char *path)
{
    char err[1024];
    struct connfile cf;
    if (connfile_load(path, &cf, err, sizeof err) < 0) {
        fprintf(stderr, "akernel-gateway attach: %s\n", err);
        return NULL;
    }
    connfile_free(&cf);
    json_error_t jerr;
    return json_load_file(path, 0, &jerr);
}

int attach_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"socket", required_argument, NULL, 's'},
                                             {"connection-file", required_argument, NULL, 'f'},
                                             {"mode", required_argument, NULL, 'm'},
                                             {NULL, 0, NULL, 0}};
    char socket_path[256];
    const char *file = NULL, *mode = "";
    client_default_socket(socket_path, sizeof socket_path);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
        if (c == 's')
            snprintf(socket_path, sizeof socket_path, "%s", optarg);
        else if (c == 'f')
            file = optarg;
        else if (c == 'm')
            mode = optarg;
        else
            goto usage;
    }
    if (!file || optind != argc)
        goto usage;
    json_t *connection = read_connection_file(file);
    int fd = connection ? connect_socket(socket_path) : -1;
    if (fd < 0) {
        json_decref(connection);
        return 1;
    }
    struct buf in = {0};
    json_t *reply = NULL;
    int status = 1;
    if (send_json(fd, json_pack("{s:s, s:o, s:s}", "command", "attach", "connection", connection, "mode", mode)) == 0)
        reply = read_reply(fd, &in, REPLY_TIMEOUT_MS);
    const char *error = reply_error(reply);
    if (error)
        fprintf(stderr, "akernel-gateway attach: the service refused this notebook: %s\n", error);
    else
        status = relay(fd, &in);
    json_decref(reply);
    buf_free(&in);
    close(fd);
    return status;
usage:
    fprintf(stderr, "usage: akernel-gateway attach [--socket PATH] [--mode MODE] -f CONNECTION_FILE\n");
    return 2;
}

static void print_status(json_t *s)
{
    json_t *fe, *w;
    size_t i;
    printf("akernel-gateway %s, router pid %lld, up %lld s, mode %s\n",
           json_string_value(json_object_get(s, "version")),
           (long long)json_integer_value(json_object_get(s, "router_pid")),
           (long long)json_integer_value(json_object_get(s, "uptime_seconds")),
           json_string_value(json_object_get(s, "mode")));
    printf("\nfrontends: %zu\n  %-6s %-16s %-9s %-12s %s\n", json_array_size(json_object_get(s, "frontends")), "id",
           "user", "sessions", "idle (s)", "mode");
    json_array_foreach(json_object_get(s, "frontends"), i, fe)
        printf("  %-6lld %-16s %-9lld %-12lld %s\n", (long long)json_integer_value(json_object_get(fe, "id")),
               json_string_value(json_object_get(fe, "user")),
               (long long)json_integer_value(json_object_get(fe, "sessions")),
               (long long)json_integer_value(json_object_get(fe, "idle_seconds")),
               json_string_value(json_object_get(fe, "mode")));
    printf("\nworkers: %zu\n  %-6s %-8s %-16s %-9s %-9s %s\n", json_array_size(json_object_get(s, "workers")), "id",
           "pid", "user", "sessions", "requests", "memory (PSS)");
    json_array_foreach(json_object_get(s, "workers"), i, w)
        printf("  %-6lld %-8lld %-16s %-9lld %-9lld %.1f MiB\n", (long long)json_integer_value(json_object_get(w, "id")),
               (long long)json_integer_value(json_object_get(w, "pid")), json_string_value(json_object_get(w, "user")),
               (long long)json_integer_value(json_object_get(w, "sessions")),
               (long long)json_integer_value(json_object_get(w, "requests")),
               (double)json_integer_value(json_object_get(w, "pss_kib")) / 1024.0);
}

int status_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    char socket_path[256];
    bool as_json = false;
    client_default_socket(socket_path, sizeof socket_path);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 's')
            snprintf(socket_path, sizeof socket_path, "%s", optarg);
        else if (c == 'j')
            as_json = true;
        else {
            fprintf(stderr, "usage: akernel-gateway status [--socket PATH] [--json]\n");
            return 2;
        }
    }
    int fd = connect_socket(socket_path);
    if (fd < 0)
        return 1;
    struct buf in = {0};
    json_t *reply = send_json(fd, json_pack("{s:s}", "command", "status")) == 0
                        ? read_reply(fd, &in, REPLY_TIMEOUT_MS)
                        : NULL;
    const char *error = reply_error(reply);
    if (error) {
        fprintf(stderr, "akernel-gateway status: %s\n", error);
    } else if (as_json) {
        json_object_del(reply, "status");
        json_dumpf(reply, stdout, JSON_INDENT(2));
        printf("\n");
    } else {
        print_status(reply);
    }
    json_decref(reply);
    buf_free(&in);
    close(fd);
    return error ? 1 : 0;
}
