/* gateway.h: the router's state and the subsystems that share it.
 *
 * The router is one thread running one poll loop (router.c). It owns:
 *   frontends (frontend.c)  the five ZMQ sockets of one connection file
 *                           (zsock.c, all in one epoll set: the hub),
 *                           with its key and replay guard;
 *   sessions  (sessions.c)  one per (frontend, session id), bound to a worker;
 *   requests  (requests.c)  requests in flight, keyed by an id the workers
 *                           echo back, holding the parent header and the
 *                           routing identities the reply needs;
 *   workers   (workers.c)   forked Python processes, each reached through a
 *                           non-blocking Unix socket with bounded queues;
 *   the zygote (zygote.c)   the process that forks workers;
 *   control   (control.c)   serve's Unix socket, where attach hands over
 *                           connection files and status asks for counts.
 * replies.c builds what the router answers itself; systemd.c speaks to the
 * service manager. */
#ifndef AKG_GATEWAY_H
#define AKG_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>
#include <time.h>
#include <uthash.h>

#include "common/auth.h"
#include "common/buf.h"
#include "common/chan.h"
#include "common/clock.h"
#include "common/connfile.h"
#include "common/jmsg.h"
#include "common/log.h"
#include "common/zsock.h"
#include "gateway/options.h"

struct gateway;

struct control_conn;

/* Whose notebook it is: workers run as this user (serve as root). */
struct owner {
    uid_t uid;
    gid_t gid;
    char name[64];
};

struct frontend {
    struct gateway *gw;
    unsigned id;
    struct connfile cf;
    struct zsock *sockets[CH_COUNT];
    struct signer *signer;
    struct replay_guard *guard;
    struct owner owner;
    char mode_name[64];          /* the modes its sessions run in */
    struct control_conn *conn;   /* the attach connection (serve), or NULL */
    struct timespec last_active; /* last request on shell, control or stdin */
    unsigned nsessions;
    bool dropped;                /* freed at the end of the loop iteration */
    struct frontend *next;
};

struct worker;

struct session {
    char *key; /* "<frontend id>/<session id>": unique across frontends */
    struct frontend *fe;
    char *sid;             /* the session id the client sent */
    struct worker *worker; /* NULL until assigned, or after its worker died */
    struct request *inflight; /* requests sent and not yet answered, oldest first */
    long last_used_ms;        /* monotonic: when it last sent a request */
    UT_hash_handle hh;
};

struct request {
    uint64_t id;
    struct frontend *fe;
    enum connfile_channel channel; /* where the reply goes */
    struct session *session; /* NULL once finished */
    struct worker *worker;
    char msg_type[65];
    struct span *idents; /* routing identities, copied */
    size_t nidents;
    struct span parent; /* the request's raw header: parent of all it causes */
    struct request *session_next, *session_prev; /* session->inflight list */
    char input_id[JMSG_ID_LEN + 1]; /* msg_id of a pending input_request */
    bool finished;                  /* answered; kept a while for late output */
    bool busy_said;                 /* its status busy is published */
    UT_hash_handle hh;              /* gateway.requests, by id */
    UT_hash_handle hh_input;        /* gateway.inputs, by input_id */
};

enum worker_state { WORKER_STARTING, WORKER_READY, WORKER_DEAD };

struct worker {
    struct gateway *gw;
    unsigned id;
    struct owner owner; /* the user it runs as */
    pid_t pid;          /* 0 until the zygote reports the fork */
    int fd;    /* router end of the channel */
    struct buf out, in;
    enum worker_state state;
    unsigned nsessions;
    unsigned inflight;
    struct timespec spawned;
    struct worker *next;
};

struct zygote {
    pid_t pid;
    int fd; /* SOCK_SEQPACKET control socket */
};

struct busy_due {
    uint64_t request_id;
    long due_ms; /* CLOCK_MONOTONIC */
};

struct gateway {
    struct gateway_options opts;
    struct owner self;        /* the user the router runs as */
    struct timespec started;
    int listen_fd;            /* serve: the control socket, or -1 */
    bool socket_activated;    /* listen_fd came from systemd */
    struct control_conn *conns;
    struct zhub *zhub;        /* every frontend socket and connection */
    struct frontend *frontends;
    struct worker *workers;
    struct session *sessions;
    struct request *requests;
    struct request *inputs;
    uint64_t finished[256]; /* ids of the last finished requests, oldest first */
    size_t finished_next;
    uint64_t next_request_id;
    struct busy_due *busy_due; /* requests whose busy waits, oldest first */
    size_t busy_head, busy_len, busy_cap;
    unsigned next_worker_id, next_frontend_id;
    struct zygote zygote;
    int signal_fd;
    struct jmsg_origin origin;
    char *kernel_info; /* kernel_info_reply content, built once */
    bool stopping;
    bool poll_dirty;
    long stop_deadline_ms; /* CLOCK_MONOTONIC */
};

/* router.c */
void gateway_request_stop(struct gateway *gw);
void gateway_poll_changed(struct gateway *gw);

/* frontend.c */
struct frontend *frontend_open(struct gateway *gw, struct connfile *cf, const struct owner *owner,
                               char *err, size_t errlen);
void frontend_close(struct frontend *fe);
void frontend_interrupt(struct frontend *fe, const char *sid);
void frontend_drop(struct frontend *fe, const char *why);
void frontends_reap_dropped(struct gateway *gw);
void frontends_cull_idle(struct gateway *gw);

/* control.c: the serve control socket (attach, status) */
int control_listen(struct gateway *gw, char *err, size_t errlen);
void control_on_accept(struct gateway *gw);
void control_on_readable(struct control_conn *c);
void control_on_writable(struct control_conn *c);
bool control_wants_write(const struct control_conn *c);
int control_fd(const struct control_conn *c);
struct control_conn **control_next(struct control_conn *c);
void control_close(struct control_conn *c);
void control_reap(struct gateway *gw);
void control_close_all(struct gateway *gw);

/* systemd.c: readiness, status, watchdog, socket activation */
int systemd_listen_fd(void);
void systemd_notify_ready(struct gateway *gw);
void systemd_notify_status(struct gateway *gw);
void systemd_notify_stopping(void);
int systemd_watchdog_ms(void);
void systemd_watchdog_ping(void);

/* users.c: owner of a uid (name, primary group); -1 when unknown */
int owner_of(uid_t uid, struct owner *out);

/* sessions.c */
struct session *session_get(struct gateway *gw, struct frontend *fe, const char *sid);
struct session *session_find(struct gateway *gw, struct frontend *fe, const char *sid);
struct worker *session_worker(struct gateway *gw, struct session *s);
void sessions_detach_worker(struct gateway *gw, struct worker *w);
void sessions_drop_frontend(struct gateway *gw, struct frontend *fe);
void sessions_free(struct gateway *gw);

/* requests.c */
struct request *request_new(struct gateway *gw, struct frontend *fe, enum connfile_channel ch,
                            const struct jmsg *m);
struct request *request_find(struct gateway *gw, uint64_t id);
struct request *request_find_input(struct gateway *gw, const char *input_id);
struct request *request_oldest_input(struct gateway *gw, struct frontend *fe, const char *sid);
void request_set_input(struct gateway *gw, struct request *req, const char *input_id);
void request_attach(struct request *req, struct session *s, struct worker *w);
void request_defer_busy(struct gateway *gw, struct request *req);
void request_say_busy(struct request *req);
long requests_due_busy(struct gateway *gw, long now_ms);
void request_finish(struct gateway *gw, struct request *req);
void request_free(struct gateway *gw, struct request *req);
void requests_free(struct gateway *gw);
void requests_drop_frontend(struct gateway *gw, struct frontend *fe);

/* replies.c: what goes to frontends */
int reply_send(struct frontend *fe, enum connfile_channel ch, const struct span *idents,
               size_t nidents, const char *msg_type, struct span parent, struct span content);
void publish(struct frontend *fe, const char *msg_type, struct span parent, struct span content,
             struct span metadata, const struct span *buffers, size_t nbuffers);
void publish_status(struct frontend *fe, struct span parent, const char *state);
int reply_to(struct request *req, const char *msg_type, struct span content);
void finish_request(struct gateway *gw, struct request *req);
void answer_kernel_info(struct frontend *fe, enum connfile_channel ch, const struct jmsg *m);
char *kernel_info_content(const struct gateway_options *o);
void fail_request(struct gateway *gw, struct request *req, const char *ename, const char *evalue);

/* workers.c */
struct worker *worker_spawn(struct gateway *gw, const struct owner *owner);
void worker_retire(struct worker *w);
int worker_send(struct worker *w, const struct span *parts, size_t nparts);
void worker_on_readable(struct worker *w);
void worker_on_writable(struct worker *w);
void worker_exited(struct gateway *gw, pid_t pid, int status);
void worker_interrupt(struct worker *w, const char *sid);
struct worker *worker_least_loaded(struct gateway *gw, const struct owner *owner);
void workers_reap_dead(struct gateway *gw);
void workers_stop_all(struct gateway *gw);
void workers_lost(struct gateway *gw);
unsigned workers_alive(struct gateway *gw);

/* zygote.c */
int zygote_start(struct gateway *gw, char *err, size_t errlen);
int zygote_spawn(struct gateway *gw, struct worker *w, int channel_fd);
void zygote_on_readable(struct gateway *gw);
void zygote_stop(struct gateway *gw);

#endif
