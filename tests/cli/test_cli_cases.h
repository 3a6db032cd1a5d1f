/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI test cases that live outside test_cli.c (its main runs them). */
#ifndef AX_TEST_CLI_CASES_H
#define AX_TEST_CLI_CASES_H

void t_type(void **state);       /* test_cli_bag.c */
void t_bag_verify(void **state); /* test_cli_bag.c */

#endif
