/* test_connfile: Jupyter connection files (common/connfile.c): parse, defaults, errors, endpoints, save/load. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/connfile.h"
#include "suites.h"

#define TYPICAL_FILE                                                                             \
    "{\n"                                                                                        \
    "  \"shell_port\": 53794,\n"                                                                 \
    "  \"iopub_port\": 53795,\n"                                                                 \
    "  \"stdin_port\": 53796,\n"                                                                 \
    "  \"control_port\": 53797,\n"                                                               \
    "  \"hb_port\": 53798,\n"                                                                    \
    "  \"ip\": \"10.1.2.3\",\n"                                                                  \
    "  \"key\": \"a0436f6c-1916-498b-8eb9-e81ab9368e84\",\n"                                     \
    "  \"transport\": \"tcp\",\n"                                                                \
    "  \"signature_scheme\": \"hmac-sha256\",\n"                                                 \
    "  \"kernel_name\": \"akernel\"\n"                                                           \
    "}\n"

static int parse(const char *text, struct connfile *cf, char *err, size_t errlen)
{
    err[0] = '\0';
    return connfile_parse(text, strlen(text), cf, err, errlen);
}

/* Parsing `text` fails with exactly `expect` as the reason. */
static void assert_parse_error(const char *text, const char *expect)
{
    struct connfile cf;
    char err[512];
    ck_assert_int_eq(parse(text, &cf, err, sizeof err), -1);
    ck_assert_str_eq(err, expect);
    ck_assert_ptr_null(cf.key); /* nothing left to free */
}

START_TEST(test_connfile_port_names)
{
    ck_assert_str_eq(connfile_port_names[CH_SHELL], "shell_port");
    ck_assert_str_eq(connfile_port_names[CH_IOPUB], "iopub_port");
    ck_assert_str_eq(connfile_port_names[CH_STDIN], "stdin_port");
    ck_assert_str_eq(connfile_port_names[CH_CONTROL], "control_port");
    ck_assert_str_eq(connfile_port_names[CH_HB], "hb_port");
}
END_TEST

START_TEST(test_connfile_parse_typical)
{
    struct connfile cf;
    char err[256];
    ck_assert_int_eq(parse(TYPICAL_FILE, &cf, err, sizeof err), 0);
    ck_assert_str_eq(cf.transport, "tcp");
    ck_assert_str_eq(cf.ip, "10.1.2.3");
    ck_assert_int_eq(cf.ports[CH_SHELL], 53794);
    ck_assert_int_eq(cf.ports[CH_IOPUB], 53795);
    ck_assert_int_eq(cf.ports[CH_STDIN], 53796);
    ck_assert_int_eq(cf.ports[CH_CONTROL], 53797);
    ck_assert_int_eq(cf.ports[CH_HB], 53798);
    ck_assert_str_eq(cf.key, "a0436f6c-1916-498b-8eb9-e81ab9368e84");
    ck_assert_str_eq(cf.signature_scheme, "hmac-sha256");
    ck_assert_str_eq(cf.kernel_name, "akernel");
    connfile_free(&cf);
    ck_assert_ptr_null(cf.key);
}
END_TEST

START_TEST(test_connfile_parse_defaults)
{
    struct connfile cf;
    char err[256];
    ck_assert_int_eq(parse("{}", &cf, err, sizeof err), 0);
    ck_assert_str_eq(cf.transport, "tcp");
    ck_assert_str_eq(cf.ip, "127.0.0.1");
    for (int ch = 0; ch < CH_COUNT; ch++)
        ck_assert_int_eq(cf.ports[ch], 0);
    ck_assert_str_eq(cf.key, "");
    ck_assert_str_eq(cf.signature_scheme, "hmac-sha256");
    ck_assert_str_eq(cf.kernel_name, "");
    connfile_free(&cf);
}
END_TEST

START_TEST(test_connfile_parse_some_ports)
{
    struct connfile cf;
    char err[256];
    ck_assert_int_eq(parse("{\"hb_port\": 65535, \"stdin_port\": 0, \"transport\": \"ipc\"}", &cf, err,
                           sizeof err),
                     0);
    ck_assert_str_eq(cf.transport, "ipc");
    ck_assert_int_eq(cf.ports[CH_HB], 65535);
    ck_assert_int_eq(cf.ports[CH_SHELL], 0);
    ck_assert_int_eq(cf.ports[CH_STDIN], 0);
    connfile_free(&cf);
}
END_TEST

START_TEST(test_connfile_unknown_scheme_without_key_ok)
{
    struct connfile cf;
    char err[256];
    ck_assert_int_eq(parse("{\"signature_scheme\": \"hmac-md5\", \"key\": \"\"}", &cf, err, sizeof err), 0);
    ck_assert_str_eq(cf.signature_scheme, "hmac-md5");
    ck_assert_str_eq(cf.key, "");
    connfile_free(&cf);
}
END_TEST

START_TEST(test_connfile_error_port_out_of_range)
{
    assert_parse_error("{\"shell_port\": 70000}", "\"shell_port\" must be an integer from 0 to 65535");
    assert_parse_error("{\"hb_port\": 65536}", "\"hb_port\" must be an integer from 0 to 65535");
    assert_parse_error("{\"iopub_port\": -1}", "\"iopub_port\" must be an integer from 0 to 65535");
}
END_TEST

START_TEST(test_connfile_error_port_not_integer)
{
    assert_parse_error("{\"control_port\": \"5555\"}", "\"control_port\" must be an integer from 0 to 65535");
    assert_parse_error("{\"stdin_port\": 5555.0}", "\"stdin_port\" must be an integer from 0 to 65535");
    assert_parse_error("{\"shell_port\": null}", "\"shell_port\" must be an integer from 0 to 65535");
}
END_TEST

START_TEST(test_connfile_error_unknown_transport)
{
    assert_parse_error("{\"transport\": \"udp\"}", "\"transport\" must be \"tcp\" or \"ipc\", not \"udp\"");
    assert_parse_error("{\"transport\": \"TCP\"}", "\"transport\" must be \"tcp\" or \"ipc\", not \"TCP\"");
    assert_parse_error("{\"transport\": 6}", "\"transport\" must be a string of at most 7 bytes");
    assert_parse_error("{\"transport\": \"websocket\"}", "\"transport\" must be a string of at most 7 bytes");
}
END_TEST

START_TEST(test_connfile_error_key_not_string)
{
    assert_parse_error("{\"key\": 12345}", "\"key\" must be a string");
    assert_parse_error("{\"key\": null}", "\"key\" must be a string");
}
END_TEST

START_TEST(test_connfile_error_unsupported_scheme_with_key)
{
    assert_parse_error("{\"key\": \"k\", \"signature_scheme\": \"hmac-md5\"}",
                       "unsupported \"signature_scheme\" \"hmac-md5\" (only hmac-sha256)");
}
END_TEST

START_TEST(test_connfile_error_string_fields)
{
    char text[400], ip[257];
    memset(ip, '1', 256);
    ip[256] = '\0';
    snprintf(text, sizeof text, "{\"ip\": \"%s\"}", ip);
    assert_parse_error(text, "\"ip\" must be a string of at most 255 bytes");
    ip[255] = '\0'; /* 255 bytes fit */
    snprintf(text, sizeof text, "{\"ip\": \"%s\"}", ip);
    struct connfile cf;
    char err[256];
    ck_assert_int_eq(parse(text, &cf, err, sizeof err), 0);
    ck_assert_uint_eq(strlen(cf.ip), 255);
    connfile_free(&cf);
    assert_parse_error("{\"kernel_name\": []}", "\"kernel_name\" must be a string of at most 127 bytes");
}
END_TEST

START_TEST(test_connfile_error_invalid_json)
{
    struct connfile cf;
    char err[256];
    ck_assert_int_eq(parse("{\n\"shell_port\": 1,,\n}", &cf, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, "invalid JSON at line 2: ", 24) == 0, "got: %s", err);
    ck_assert_int_eq(parse("", &cf, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, "invalid JSON at line ", 21) == 0, "got: %s", err);
    assert_parse_error("[]", "the connection file must hold a JSON object");
}
END_TEST

static void endpoint_of(const char *transport, const char *ip, int port, char *out, size_t outlen)
{
    struct connfile cf = {0};
    snprintf(cf.transport, sizeof cf.transport, "%s", transport);
    snprintf(cf.ip, sizeof cf.ip, "%s", ip);
    cf.ports[CH_CONTROL] = port;
    connfile_endpoint(&cf, CH_CONTROL, out, outlen);
}

START_TEST(test_connfile_endpoint_tcp)
{
    char ep[300];
    endpoint_of("tcp", "127.0.0.1", 53797, ep, sizeof ep);
    ck_assert_str_eq(ep, "tcp://127.0.0.1:53797");
    endpoint_of("tcp", "0.0.0.0", 1, ep, sizeof ep);
    ck_assert_str_eq(ep, "tcp://0.0.0.0:1");
}
END_TEST

START_TEST(test_connfile_endpoint_tcp_any_port)
{
    char ep[300];
    endpoint_of("tcp", "10.0.0.7", 0, ep, sizeof ep);
    ck_assert_str_eq(ep, "tcp://10.0.0.7:*");
}
END_TEST

START_TEST(test_connfile_endpoint_ipc)
{
    char ep[300];
    endpoint_of("ipc", "/tmp/kernel-abc", 4, ep, sizeof ep);
    ck_assert_str_eq(ep, "ipc:///tmp/kernel-abc-4");
}
END_TEST

START_TEST(test_connfile_ipc_ports_are_assigned)
{
    char dir[] = "/tmp/akg-ipc-XXXXXX", ip[64], taken[96];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(ip, sizeof ip, "%s/k", dir);
    snprintf(taken, sizeof taken, "%s-2", ip); /* a path in use is skipped */
    fclose(fopen(taken, "w"));
    struct connfile cf = {0};
    snprintf(cf.transport, sizeof cf.transport, "ipc");
    snprintf(cf.ip, sizeof cf.ip, "%s", ip);
    cf.ports[CH_HB] = 3; /* given ports are kept and not reused */
    ck_assert_int_eq(connfile_assign_ipc_ports(&cf), 0);
    ck_assert_int_eq(cf.ports[CH_SHELL], 1);
    ck_assert_int_eq(cf.ports[CH_IOPUB], 4);
    ck_assert_int_eq(cf.ports[CH_STDIN], 5);
    ck_assert_int_eq(cf.ports[CH_CONTROL], 6);
    ck_assert_int_eq(cf.ports[CH_HB], 3);
    unlink(taken);
    rmdir(dir);
    struct connfile tcp = {0};
    snprintf(tcp.transport, sizeof tcp.transport, "tcp");
    ck_assert_int_eq(connfile_assign_ipc_ports(&tcp), 0);
    ck_assert_int_eq(tcp.ports[CH_SHELL], 0);
}
END_TEST

START_TEST(test_connfile_endpoints_of_parsed_file)
{
    struct connfile cf;
    char err[256], ep[300];
    ck_assert_int_eq(parse(TYPICAL_FILE, &cf, err, sizeof err), 0);
    connfile_endpoint(&cf, CH_SHELL, ep, sizeof ep);
    ck_assert_str_eq(ep, "tcp://10.1.2.3:53794");
    connfile_endpoint(&cf, CH_HB, ep, sizeof ep);
    ck_assert_str_eq(ep, "tcp://10.1.2.3:53798");
    connfile_free(&cf);
}
END_TEST

START_TEST(test_connfile_init_default)
{
    struct connfile cf, other;
    ck_assert_int_eq(connfile_init_default(&cf), 0);
    ck_assert_str_eq(cf.transport, "tcp");
    ck_assert_str_eq(cf.ip, "127.0.0.1");
    ck_assert_str_eq(cf.signature_scheme, "hmac-sha256");
    for (int ch = 0; ch < CH_COUNT; ch++)
        ck_assert_int_eq(cf.ports[ch], 0);
    ck_assert_uint_eq(strlen(cf.key), 32);
    ck_assert_uint_eq(strspn(cf.key, "0123456789abcdef"), 32);
    ck_assert_int_eq(connfile_init_default(&other), 0);
    ck_assert_str_ne(cf.key, other.key);
    connfile_free(&cf);
    connfile_free(&other);
}
END_TEST

/* A fresh directory under /tmp, removed by each test once emptied. */
static char *make_dir(void)
{
    char *dir = strdup("/tmp/akg-connfile-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

/* Number of entries in dir, "." and ".." aside. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

START_TEST(test_connfile_save_load_round_trip)
{
    char *dir = make_dir();
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/kernel-1.json", dir);
    struct connfile cf, back;
    ck_assert_int_eq(connfile_init_default(&cf), 0);
    snprintf(cf.kernel_name, sizeof cf.kernel_name, "akernel-react");
    snprintf(cf.ip, sizeof cf.ip, "192.168.0.9");
    for (int ch = 0; ch < CH_COUNT; ch++)
        cf.ports[ch] = 40000 + ch * 11;
    ck_assert_int_eq(connfile_save(path, &cf, err, sizeof err), 0);

    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(dir_entries(dir), 1); /* no temporary file left */

    ck_assert_int_eq(connfile_load(path, &back, err, sizeof err), 0);
    ck_assert_str_eq(back.transport, "tcp");
    ck_assert_str_eq(back.ip, "192.168.0.9");
    ck_assert_str_eq(back.key, cf.key);
    ck_assert_str_eq(back.signature_scheme, "hmac-sha256");
    ck_assert_str_eq(back.kernel_name, "akernel-react");
    for (int ch = 0; ch < CH_COUNT; ch++)
        ck_assert_int_eq(back.ports[ch], 40000 + ch * 11);
    connfile_free(&cf);
    connfile_free(&back);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_connfile_save_replaces_with_mode_0600)
{
    char *dir = make_dir();
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/kernel-2.json", dir);
    FILE *f = fopen(path, "w");
    fputs("old", f);
    fclose(f);
    chmod(path, 0644);
    struct connfile cf;
    ck_assert_int_eq(parse(TYPICAL_FILE, &cf, err, sizeof err), 0);
    ck_assert_int_eq(connfile_save(path, &cf, err, sizeof err), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    struct connfile back;
    ck_assert_int_eq(connfile_load(path, &back, err, sizeof err), 0);
    ck_assert_str_eq(back.key, "a0436f6c-1916-498b-8eb9-e81ab9368e84");
    ck_assert_int_eq(back.ports[CH_IOPUB], 53795);
    connfile_free(&cf);
    connfile_free(&back);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_connfile_save_into_missing_dir_fails)
{
    char *dir = make_dir();
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/missing/kernel.json", dir);
    struct connfile cf;
    ck_assert_int_eq(connfile_init_default(&cf), 0);
    ck_assert_int_eq(connfile_save(path, &cf, err, sizeof err), -1);
    char expect[600];
    snprintf(expect, sizeof expect, "cannot write %s: No such file or directory", path);
    ck_assert_str_eq(err, expect);
    connfile_free(&cf);
    ck_assert_int_eq(rmdir(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_connfile_load_errors_name_the_file)
{
    char *dir = make_dir();
    char path[512], err[1024], expect[1024];
    struct connfile cf;
    snprintf(path, sizeof path, "%s/absent.json", dir);
    ck_assert_int_eq(connfile_load(path, &cf, err, sizeof err), -1);
    snprintf(expect, sizeof expect, "cannot open %s: No such file or directory", path);
    ck_assert_str_eq(err, expect);

    FILE *f = fopen(path, "w");
    fputs("{\"hb_port\": \"x\"}", f);
    fclose(f);
    ck_assert_int_eq(connfile_load(path, &cf, err, sizeof err), -1);
    snprintf(expect, sizeof expect, "%s: \"hb_port\" must be an integer from 0 to 65535", path);
    ck_assert_str_eq(err, expect);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0);
    free(dir);
}
END_TEST

Suite *connfile_suite(void)
{
    Suite *s = suite_create("connfile");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_connfile_port_names);
    tcase_add_test(tc, test_connfile_parse_typical);
    tcase_add_test(tc, test_connfile_parse_defaults);
    tcase_add_test(tc, test_connfile_parse_some_ports);
    tcase_add_test(tc, test_connfile_unknown_scheme_without_key_ok);
    tcase_add_test(tc, test_connfile_error_port_out_of_range);
    tcase_add_test(tc, test_connfile_error_port_not_integer);
    tcase_add_test(tc, test_connfile_error_unknown_transport);
    tcase_add_test(tc, test_connfile_error_key_not_string);
    tcase_add_test(tc, test_connfile_error_unsupported_scheme_with_key);
    tcase_add_test(tc, test_connfile_error_string_fields);
    tcase_add_test(tc, test_connfile_error_invalid_json);
    tcase_add_test(tc, test_connfile_endpoint_tcp);
    tcase_add_test(tc, test_connfile_endpoint_tcp_any_port);
    tcase_add_test(tc, test_connfile_endpoint_ipc);
    tcase_add_test(tc, test_connfile_ipc_ports_are_assigned);
    tcase_add_test(tc, test_connfile_endpoints_of_parsed_file);
    tcase_add_test(tc, test_connfile_init_default);
    tcase_add_test(tc, test_connfile_save_load_round_trip);
    tcase_add_test(tc, test_connfile_save_replaces_with_mode_0600);
    tcase_add_test(tc, test_connfile_save_into_missing_dir_fails);
    tcase_add_test(tc, test_connfile_load_errors_name_the_file);
    suite_add_tcase(s, tc);
    return s;
}
