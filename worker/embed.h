/* embed: start Debian's libpython3 in the zygote and call into the runtime. */
#ifndef AKG_EMBED_H
#define AKG_EMBED_H

#include <stddef.h>

/* Initialise Python (sys.executable = /usr/bin/python3), put the runtime
 * package on sys.path and import everything workers need, plus `preload`
 * (comma-separated modules). Returns -1 with a reason in err. */
int embed_init(const char *modes, const char *preload, char *err, size_t errlen);
/* In a freshly forked worker: tell Python about the fork, run the worker's
 * event loop until it ends. Returns the exit status. */
int embed_run_worker(void);
/* Set an environment variable in os.environ (and the process's). */
void embed_setenv(const char *name, const char *value);
/* Before and after fork() in the zygote. */
void embed_before_fork(void);
void embed_after_fork_parent(void);

#endif
