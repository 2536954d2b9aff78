/* connfile: the Jupyter connection file (transport, ip, five ports, key,
 * signature scheme): read, validate, write (mode 0600) and turn into ZMQ
 * endpoints, for tcp ("tcp://ip:port") and ipc ("ipc://ip-port"). */
#ifndef AKG_CONNFILE_H
#define AKG_CONNFILE_H

#include <jansson.h>
#include <stddef.h>

enum connfile_channel { CH_SHELL, CH_IOPUB, CH_STDIN, CH_CONTROL, CH_HB, CH_COUNT };

struct connfile {
    char transport[8]; /* "tcp" or "ipc" */
    char ip[256];
    int ports[CH_COUNT]; /* 0: let the kernel choose */
    char *key;           /* owned; "" when messages are unsigned */
    char signature_scheme[32];
    char kernel_name[128];
};

extern const char *const connfile_port_names[CH_COUNT];

/* Parse a connection file from memory or from disk. On error returns -1 and
 * writes a reason that names the offending field into err. */
int connfile_parse(const char *text, size_t len, struct connfile *cf, char *err, size_t errlen);
int connfile_from_json(json_t *root, struct connfile *cf, char *err, size_t errlen);
int connfile_load(const char *path, struct connfile *cf, char *err, size_t errlen);
/* Write the file atomically with mode 0600. */
int connfile_save(const char *path, const struct connfile *cf, char *err, size_t errlen);
/* A fresh configuration on 127.0.0.1 with a random key and ports 0. */
int connfile_init_default(struct connfile *cf);
/* For ipc: give ports still 0 the first integers whose path is free (as
 * jupyter_client does). No-op for tcp, where the system picks at bind. */
int connfile_assign_ipc_ports(struct connfile *cf);
void connfile_endpoint(const struct connfile *cf, enum connfile_channel ch, char *out, size_t outlen);
void connfile_free(struct connfile *cf);

#endif
