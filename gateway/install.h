/* install: `akernel-gateway install [MODE] [--user|--prefix P]`. */
#ifndef AKG_INSTALL_H
#define AKG_INSTALL_H

int install_main(int argc, char **argv);

#endif
