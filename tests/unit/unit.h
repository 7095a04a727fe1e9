/* unit.h: the smallest test harness that says what failed and where.
 *
 *   CHECK(cond)            record a failure with file:line and the expression
 *   CHECK_EQ_INT(a, b)     integers, printing both values
 *   CHECK_EQ_STR(a, b)     strings, printing both values
 *   UNIT_DONE()            print "N passed, N failed" and return the exit code
 */
#ifndef PI_UNIT_H
#define PI_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_pass, unit_fail;

#define CHECK(cond) do { \
	if (cond) unit_pass++; \
	else { unit_fail++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
	long long va_ = (long long)(a), vb_ = (long long)(b); \
	if (va_ == vb_) unit_pass++; \
	else { unit_fail++; fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", \
		__FILE__, __LINE__, #a, #b, va_, vb_); } \
} while (0)

#define CHECK_EQ_STR(a, b) do { \
	const char *sa_ = (a), *sb_ = (b); \
	if (sa_ && sb_ && strcmp(sa_, sb_) == 0) unit_pass++; \
	else { unit_fail++; fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
		__FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); } \
} while (0)

#define UNIT_DONE() do { \
	printf("%d passed, %d failed\n", unit_pass, unit_fail); \
	return unit_fail ? 1 : 0; \
} while (0)

#endif
