/* fuzz_connfile: the Jupyter connection-file reader (common/connfile.c
 * connfile_parse, connfile_endpoint, connfile_free): what `launch -f FILE`
 * reads and what `attach` hands to the service.
 *
 * Input: the raw bytes of a connection file. On success the harness checks
 * the fields, builds the ZMQ endpoint of every channel in a buffer of the
 * size the router uses, writes the fields back as JSON (as connfile_save
 * does) and parses that again: it must give the same connection. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/connfile.h"
#include "tests/fuzz/fuzz.h"

static int terminated(const char *s, size_t cap) { return memchr(s, '\0', cap) != NULL; }

static void check_fields(const struct connfile *cf)
{
    CHECK(strcmp(cf->transport, "tcp") == 0 || strcmp(cf->transport, "ipc") == 0);
    CHECK(terminated(cf->ip, sizeof cf->ip));
    CHECK(terminated(cf->signature_scheme, sizeof cf->signature_scheme));
    CHECK(terminated(cf->kernel_name, sizeof cf->kernel_name));
    CHECK(cf->key != NULL);
    CHECK(cf->key[0] == '\0' || strcmp(cf->signature_scheme, "hmac-sha256") == 0);
    for (int ch = 0; ch < CH_COUNT; ch++)
        CHECK(cf->ports[ch] >= 0 && cf->ports[ch] <= 65535);
}

static void check_endpoints(const struct connfile *cf)
{
    for (int ch = 0; ch < CH_COUNT; ch++) {
        char endpoint[512]; /* as gateway/frontend.c bind_channel */
        memset(endpoint, 'x', sizeof endpoint);
        connfile_endpoint(cf, (enum connfile_channel)ch, endpoint, sizeof endpoint);
        size_t len = strnlen(endpoint, sizeof endpoint);
        CHECK(len < sizeof endpoint);
        /* the longest ip fits whole: the endpoint is never cut short */
        CHECK(strncmp(endpoint, cf->transport, 3) == 0 && strncmp(endpoint + 3, "://", 3) == 0);
        CHECK(strncmp(endpoint + 6, cf->ip, strlen(cf->ip)) == 0);
        char tail[16];
        if (strcmp(cf->transport, "ipc") == 0)
            snprintf(tail, sizeof tail, "-%d", cf->ports[ch]);
        else if (cf->ports[ch] == 0)
            snprintf(tail, sizeof tail, ":*");
        else
            snprintf(tail, sizeof tail, ":%d", cf->ports[ch]);
        CHECK(len == 6 + strlen(cf->ip) + strlen(tail) && strcmp(endpoint + 6 + strlen(cf->ip), tail) == 0);
    }
}

/* What connfile_save writes, without the file. */
static void check_round_trip(const struct connfile *cf)
{
    json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:s}", "transport", cf->transport, "ip", cf->ip, "key",
                             cf->key, "signature_scheme", cf->signature_scheme, "kernel_name", cf->kernel_name);
    CHECK(root); /* every field came from a JSON string: valid UTF-8 */
    for (int ch = 0; ch < CH_COUNT; ch++)
        json_object_set_new(root, connfile_port_names[ch], json_integer(cf->ports[ch]));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    CHECK(text);
    struct connfile again;
    char err[512];
    if (connfile_parse(text, strlen(text), &again, err, sizeof err) != 0) {
        fprintf(stderr, "re-reading what was written failed: %s\n%s\n", err, text);
        abort();
    }
    CHECK(strcmp(again.transport, cf->transport) == 0 && strcmp(again.ip, cf->ip) == 0 &&
          strcmp(again.key, cf->key) == 0 && strcmp(again.signature_scheme, cf->signature_scheme) == 0 &&
          strcmp(again.kernel_name, cf->kernel_name) == 0 &&
          memcmp(again.ports, cf->ports, sizeof cf->ports) == 0);
    connfile_free(&again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct connfile cf;
    char err[512];
    memset(err, 0, sizeof err);
    if (connfile_parse((const char *)data, size, &cf, err, sizeof err) != 0) {
        CHECK(err[0] != '\0' && terminated(err, sizeof err));
        CHECK(cf.key == NULL); /* nothing left to free */
        connfile_free(&cf);
        return 0;
    }
    check_fields(&cf);
    check_endpoints(&cf);
    check_round_trip(&cf);
    connfile_free(&cf);
    CHECK(cf.key == NULL);
    return 0;
}
