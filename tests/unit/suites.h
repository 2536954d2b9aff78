/* suites: the check suites of the common/ unit tests, one per module. */
#ifndef AKG_TEST_SUITES_H
#define AKG_TEST_SUITES_H

#include <check.h>

Suite *buf_suite(void);
Suite *chan_suite(void);
Suite *auth_suite(void);
Suite *jmsg_suite(void);
Suite *connfile_suite(void);
Suite *modes_suite(void);
Suite *jstr_suite(void);

#endif
