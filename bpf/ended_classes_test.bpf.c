// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The classes probe as a BPF_PROG_TEST_RUN-able syscall program, for tests and
 * benchmarks (see SB_PROGRAM in ended_common.h). Never attached. */
#define SB_TEST 1
#include "ended_classes.bpf.c"
