/* cache_cli: `akernel-gateway cache stats|clear [--cache-dir DIR]`, on the
 * store cache mode writes (worker/runtime/akernel_runtime/cache.py): a
 * SQLite database, cache.sqlite3, in $AKERNEL_GATEWAY_CACHE_DIR, else
 * $XDG_CACHE_HOME/akernel-gateway, else ~/.cache/akernel-gateway. */
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/cache_cli.h"

static void default_dir(char *out, size_t outlen)
{
    const char *dir = getenv("AKERNEL_GATEWAY_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (dir && *dir)
        snprintf(out, outlen, "%s", dir);
    else if (xdg && *xdg)
        snprintf(out, outlen, "%s/akernel-gateway", xdg);
    else
        snprintf(out, outlen, "%s/.cache/akernel-gateway", home ? home : ".");
}

static long long query_number(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long long value = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        value = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return value;
}

static int print_stats(sqlite3 *db, const char *path)
{
    long long entries = query_number(db, "SELECT COUNT(*) FROM entries");
    long long bytes = query_number(db, "SELECT COALESCE(SUM(size), 0) FROM entries");
    long long hits = query_number(db, "SELECT value FROM counters WHERE name = 'hits'");
    long long misses = query_number(db, "SELECT value FROM counters WHERE name = 'misses'");
    long long lookups = hits + misses;
    printf("store:    %s\nentries:  %lld\nbytes:    %lld (%.1f MiB)\nhits:     %lld\nmisses:   %lld\n"
           "hit rate: %.1f%%\n",
           path, entries, bytes, (double)bytes / (1 << 20), hits, misses,
           lookups ? 100.0 * (double)hits / (double)lookups : 0.0);
    return 0;
}

static int clear(sqlite3 *db, const char *path)
{
    long long entries = query_number(db, "SELECT COUNT(*) FROM entries");
    char *err = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE; DELETE FROM entries; UPDATE counters SET value = 0; COMMIT; VACUUM;",
                     NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "akernel-gateway cache clear: %s: %s\n", path, err ? err : "failed");
        sqlite3_free(err);
        return 1;
    }
    printf("cleared %lld entries from %s\n", entries, path);
    return 0;
}

int cache_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"cache-dir", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0}};
    char dir[512], path[600];
    default_dir(dir, sizeof dir);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c != 'd')
            goto usage;
        snprintf(dir, sizeof dir, "%s", optarg);
    }
    if (optind + 1 != argc || (strcmp(argv[optind], "stats") != 0 && strcmp(argv[optind], "clear") != 0))
        goto usage;
    snprintf(path, sizeof path, "%s/cache.sqlite3", dir);
    if (access(path, F_OK) != 0) {
        printf("store:    %s (none yet)\nentries:  0\nbytes:    0\n", path);
        return 0;
    }
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "akernel-gateway cache: cannot open %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    sqlite3_busy_timeout(db, 10000);
    int rc = strcmp(argv[optind], "stats") == 0 ? print_stats(db, path) : clear(db, path);
    sqlite3_close(db);
    return rc;
usage:
    fprintf(stderr, "usage: akernel-gateway cache stats|clear [--cache-dir DIR]\n");
    return 2;
}
