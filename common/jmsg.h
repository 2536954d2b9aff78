/* jmsg: Jupyter messages on ZMQ sockets (messaging protocol 5.3).
 *
 * Wire layout of one multipart message:
 *     identities... | "<IDS|MSG>" | signature | header | parent_header |
 *     metadata | content | buffers...
 *
 * jmsg_load takes the frames of one received multipart message; jmsg_parse
 * checks it (delimiter, signature, replay, JSON objects, header fields) so
 * that any malformed input is refused with one reason and nothing else.
 * jmsg_build makes a header (uuid msg_id, ISO 8601 UTC date with
 * microseconds) and signs; jmsg_send also queues the frames on a zsock,
 * without ever blocking. */
#ifndef AKG_JMSG_H
#define AKG_JMSG_H

#include <jansson.h>
#include <stdbool.h>

#include "common/auth.h"
#include "common/buf.h"
#include "common/zsock.h"

#define JMSG_PROTOCOL_VERSION "5.3"
#define JMSG_DELIMITER "<IDS|MSG>"
#define JMSG_MAX_FRAMES 1024
#define JMSG_ID_LEN 36

struct jmsg {
    const struct span *frames; /* borrowed from the transport */
    size_t nframes;
    bool too_many_frames;
    size_t size;         /* bytes in all frames, as received */
    size_t size_limit;   /* frames past this total were dropped on arrival */
    size_t nidents; /* frames[0 .. nidents) route the reply: pass them as they are */
    size_t sig;     /* index of the signature frame */
    json_t *header, *parent, *metadata, *content;
    const char *msg_type, *msg_id, *session; /* owned by header */
    size_t nbuffers;                          /* frames after content */
};

enum jmsg_error {
    JMSG_OK,
    JMSG_NO_DELIMITER,
    JMSG_TRUNCATED,
    JMSG_TOO_MANY_FRAMES,
    JMSG_BAD_SIGNATURE,
    JMSG_REPLAYED,
    JMSG_BAD_JSON,
    JMSG_BAD_HEADER,
    JMSG_TOO_LARGE, /* valid, but over the size limit: its buffers were dropped */
};

const char *jmsg_error_str(enum jmsg_error e);

/* Take the frames of one multipart message as the transport delivered
 * them: `frames` must outlive m. Frames that took the total (`size`) past
 * size_limit (0: none) were dropped on arrival and are empty here, so an
 * oversized message is never copied or kept. */
void jmsg_load(struct jmsg *m, const struct span *frames, size_t nframes, size_t size,
               size_t size_limit, bool too_many_frames);
/* Validate a received message; `guard` may be NULL. On JMSG_OK the JSON
 * parts are parsed into m->header, parent, metadata and content; so they
 * are on JMSG_TOO_LARGE when those parts fitted (the caller can answer). */
enum jmsg_error jmsg_parse(struct jmsg *m, struct signer *signer, struct replay_guard *guard);
void jmsg_close(struct jmsg *m);

static inline struct span jmsg_frame(const struct jmsg *m, size_t i) { return m->frames[i]; }
/* The raw header frame: what replies and outputs carry as parent_header. */
static inline struct span jmsg_header_raw(const struct jmsg *m) { return jmsg_frame(m, m->sig + 1); }
static inline struct span jmsg_metadata_raw(const struct jmsg *m) { return jmsg_frame(m, m->sig + 3); }
static inline struct span jmsg_content_raw(const struct jmsg *m) { return jmsg_frame(m, m->sig + 4); }
static inline struct span jmsg_buffer(const struct jmsg *m, size_t i) { return jmsg_frame(m, m->sig + 5 + i); }

/* Who the kernel says it is in the headers it writes. */
struct jmsg_origin {
    char session[JMSG_ID_LEN + 1];
    char *username_json; /* a JSON string literal, quotes included */
};

int jmsg_origin_init(struct jmsg_origin *o, const char *username);
void jmsg_origin_free(struct jmsg_origin *o);

struct jmsg_out {
    const struct span *idents; /* routing identities, or the iopub topic */
    size_t nidents;
    const char *msg_type;
    struct span parent;   /* raw parent header JSON; empty means {} */
    struct span metadata; /* empty means {} */
    struct span content;  /* empty means {} */
    const struct span *buffers;
    size_t nbuffers;
};

/* Frames an outgoing message goes out as, with the storage they use. */
#define JMSG_MAX_OUT_FRAMES 80
struct jmsg_wire {
    char header[512];
    char signature[AUTH_HEX_LEN + 1];
    struct span frames[JMSG_MAX_OUT_FRAMES]; /* idents, delimiter, signature, 4 parts, buffers */
    size_t nframes;
};

/* Build and sign a message into w. If msg_id is not NULL the new header's
 * msg_id is written there. Returns 0, or -1 (errno EINVAL: a bad msg_type
 * or too many frames; EPROTO: signing failed). */
int jmsg_build(struct jmsg_wire *w, struct signer *signer, const struct jmsg_origin *origin,
               const struct jmsg_out *out, char msg_id[JMSG_ID_LEN + 1]);
/* Build, sign and queue on s (see zsock_send). Never blocks. */
int jmsg_send(struct zsock *s, struct signer *signer, const struct jmsg_origin *origin,
              const struct jmsg_out *out, char msg_id[JMSG_ID_LEN + 1]);

/* Fill `out` with a random uuid4 string. */
void jmsg_new_id(char out[JMSG_ID_LEN + 1]);
/* "2026-01-31T12:34:56.123456Z" */
void jmsg_iso_now(char out[64]);
/* True when s is a plausible msg_type: 1-64 chars of [A-Za-z0-9_]. */
bool jmsg_valid_type(struct span s);

#endif
