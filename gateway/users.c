/* users: the Unix users whose notebooks run here (names, primary groups). */
#include <pwd.h>
#include <stdio.h>

#include "gateway/gateway.h"

int owner_of(uid_t uid, struct owner *out)
{
    struct passwd pw, *found = NULL;
    char buf[4096];
    out->uid = uid;
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) != 0 || !found) {
        out->gid = (gid_t)-1;
        snprintf(out->name, sizeof out->name, "%u", (unsigned)uid);
        return -1;
    }
    out->gid = pw.pw_gid;
    snprintf(out->name, sizeof out->name, "%s", pw.pw_name);
    return 0;
}
