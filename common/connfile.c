/* connfile: Jupyter connection files; see connfile.h. */
#include "common/connfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const connfile_port_names[CH_COUNT] = {"shell_port", "iopub_port", "stdin_port",
                                                   "control_port", "hb_port"};

static int copy_string(json_t *root, const char *field, char *out, size_t outlen,
                       const char *fallback, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, field);
    if (!v) {
        snprintf(out, outlen, "%s", fallback);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= outlen) {
        snprintf(err, errlen, "\"%s\" must be a string of at most %zu bytes", field, outlen - 1);
        return -1;
    }
    snprintf(out, outlen, "%s", json_string_value(v));
    return 0;
}

static int read_port(json_t *root, const char *field, int *port, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, field);
    if (!v) {
        *port = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535) {
        snprintf(err, errlen, "\"%s\" must be an integer from 0 to 65535", field);
        return -1;
    }
    *port = (int)json_integer_value(v);
    return 0;
}

static int parse_fields(json_t *root, struct connfile *cf, char *err, size_t errlen);

int connfile_from_json(json_t *root, struct connfile *cf, char *err, size_t errlen)
{
    memset(cf, 0, sizeof *cf);
    if (parse_fields(root, cf, err, errlen) < 0) {
        connfile_free(cf);
        return -1;
    }
    return 0;
}

static int parse_fields(json_t *root, struct connfile *cf, char *err, size_t errlen)
{
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the connection file must hold a JSON object");
        return -1;
    }
    if (copy_string(root, "transport", cf->transport, sizeof cf->transport, "tcp", err, errlen) ||
        copy_string(root, "ip", cf->ip, sizeof cf->ip, "127.0.0.1", err, errlen) ||
        copy_string(root, "signature_scheme", cf->signature_scheme, sizeof cf->signature_scheme,
                    "hmac-sha256", err, errlen) ||
        copy_string(root, "kernel_name", cf->kernel_name, sizeof cf->kernel_name, "", err, errlen))
        return -1;
    if (strcmp(cf->transport, "tcp") != 0 && strcmp(cf->transport, "ipc") != 0) {
        snprintf(err, errlen, "\"transport\" must be \"tcp\" or \"ipc\", not \"%s\"", cf->transport);
        return -1;
    }
    for (int ch = 0; ch < CH_COUNT; ch++)
        if (read_port(root, connfile_port_names[ch], &cf->ports[ch], err, errlen) < 0)
            return -1;
    json_t *key = json_object_get(root, "key");
    if (key && !json_is_string(key)) {
        snprintf(err, errlen, "\"key\" must be a string");
        return -1;
    }
    cf->key = strdup(key ? json_string_value(key) : "");
    if (!cf->key) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cf->key[0] && strcmp(cf->signature_scheme, "hmac-sha256") != 0) {
        snprintf(err, errlen, "unsupported \"signature_scheme\" \"%s\" (only hmac-sha256)",
                 cf->signature_scheme);
        return -1;
    }
    return 0;
}

int connfile_parse(const char *text, size_t len, struct connfile *cf, char *err, size_t errlen)
{
    json_error_t jerr;
    memset(cf, 0, sizeof *cf);
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root) {
        snprintf(err, errlen, "invalid JSON at line %d: %s", jerr.line, jerr.text);
        return -1;
    }
    int rc = connfile_from_json(root, cf, err, errlen);
    json_decref(root);
    return rc;
}

int connfile_load(const char *path, struct connfile *cf, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char text[65536];
    size_t n = fread(text, 1, sizeof text, f);
    int too_big = n == sizeof text;
    fclose(f);
    if (too_big) {
        snprintf(err, errlen, "%s is larger than 64 KiB", path);
        return -1;
    }
    char reason[512];
    if (connfile_parse(text, n, cf, reason, sizeof reason) < 0) {
        snprintf(err, errlen, "%s: %s", path, reason);
        return -1;
    }
    return 0;
}

int connfile_save(const char *path, const struct connfile *cf, char *err, size_t errlen)
{
    json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:s}", "transport", cf->transport, "ip", cf->ip,
                             "key", cf->key, "signature_scheme", cf->signature_scheme,
                             "kernel_name", cf->kernel_name);
    for (int ch = 0; root && ch < CH_COUNT; ch++)
        json_object_set_new(root, connfile_port_names[ch], json_integer(cf->ports[ch]));
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    if (!text) {
        snprintf(err, errlen, "cannot write %s: a field is not valid UTF-8", path);
        return -1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(text);
    int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    if (fd >= 0 && close(fd) < 0)
        ok = 0;
    if (ok && rename(tmp, path) < 0)
        ok = 0;
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(text);
    return ok ? 0 : -1;
}

int connfile_init_default(struct connfile *cf)
{
    memset(cf, 0, sizeof *cf);
    snprintf(cf->transport, sizeof cf->transport, "tcp");
    snprintf(cf->ip, sizeof cf->ip, "127.0.0.1");
    snprintf(cf->signature_scheme, sizeof cf->signature_scheme, "hmac-sha256");
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    cf->key = malloc(2 * sizeof raw + 1);
    if (!cf->key)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(cf->key + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

int connfile_assign_ipc_ports(struct connfile *cf)
{
    if (strcmp(cf->transport, "ipc") != 0)
        return 0;
    int next = 1;
    for (int ch = 0; ch < CH_COUNT; ch++) {
        if (cf->ports[ch] != 0)
            continue;
        char path[300];
        for (;; next++) {
            bool taken = false;
            for (int other = 0; other < CH_COUNT; other++)
                taken |= cf->ports[other] == next;
            snprintf(path, sizeof path, "%s-%d", cf->ip, next);
            if (!taken && access(path, F_OK) != 0)
                break;
            if (next > 65535)
                return -1;
        }
        cf->ports[ch] = next++;
    }
    return 0;
}

void connfile_endpoint(const struct connfile *cf, enum connfile_channel ch, char *out, size_t outlen)
{
    int port = cf->ports[ch];
    if (strcmp(cf->transport, "ipc") == 0)
        snprintf(out, outlen, "ipc://%s-%d", cf->ip, port);
    else if (port == 0)
        snprintf(out, outlen, "tcp://%s:*", cf->ip);
    else
        snprintf(out, outlen, "tcp://%s:%d", cf->ip, port);
}

void connfile_free(struct connfile *cf)
{
    if (cf->key) {
        explicit_bzero(cf->key, strlen(cf->key));
        free(cf->key);
    }
    cf->key = NULL;
}
