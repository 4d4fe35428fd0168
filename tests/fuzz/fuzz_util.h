/* Shared by the fuzz harnesses. */
#ifndef VMB_FUZZ_UTIL_H
#define VMB_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>

/* A check that also holds in NDEBUG builds: a failure is a finding. */
#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                 \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
