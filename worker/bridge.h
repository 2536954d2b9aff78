/* bridge: the `_akernel` module, the runtime's only way to the router. */
#ifndef AKG_BRIDGE_H
#define AKG_BRIDGE_H

/* Register _akernel as a built-in module; call before Py_Initialize. */
int bridge_register(void);
/* Give the module its channel (in a worker, after the fork). */
void bridge_set_channel(int fd);

#endif
