/* cache_cli: `akernel-gateway cache stats|clear`. */
#ifndef AKG_CACHE_CLI_H
#define AKG_CACHE_CLI_H

int cache_main(int argc, char **argv);

#endif
