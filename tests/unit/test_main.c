/* test_main: runs every unit test suite of common/. */
#include <check.h>
#include <stdlib.h>

#include "suites.h"

int main(void)
{
    SRunner *runner = srunner_create(buf_suite());
    srunner_add_suite(runner, chan_suite());
    srunner_add_suite(runner, auth_suite());
    srunner_add_suite(runner, jmsg_suite());
    srunner_add_suite(runner, connfile_suite());
    srunner_add_suite(runner, modes_suite());
    srunner_add_suite(runner, jstr_suite());
    srunner_add_suite(runner, zmtp_suite());
    srunner_add_suite(runner, zsock_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
