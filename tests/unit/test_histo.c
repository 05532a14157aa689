/* Unit tests for the fixed-bucket histograms: the 1-2-5 bounds, the O(1)
 * index against a linear search for every value near a bound, and
 * percentiles interpolated inside buckets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "histo.h"

/* The reference: the first bucket whose bound is >= v. */
static unsigned linear_index(uint64_t v)
{
	for (unsigned i = 0; i < HISTO_NBOUNDS; i++)
		if (v <= histo_bound_us(i))
			return i;
	return HISTO_NBOUNDS;
}

static void test_bounds(void **state)
{
	static const uint64_t want[HISTO_NBOUNDS] = {
	    10,	      20,	50,	  100,	    200,     500,
	    1000,     2000,	5000,	  10000,    20000,   50000,
	    100000,   200000,	500000,	  1000000,  2000000, 5000000,
	    10000000, 20000000, 50000000, 100000000};

	(void)state;
	for (unsigned i = 0; i < HISTO_NBOUNDS; i++)
		assert_int_equal(histo_bound_us(i), want[i]);
}

static void test_index_matches_search(void **state)
{
	(void)state;
	for (uint64_t v = 0; v < 3000; v++)
		assert_int_equal(histo_index(v), linear_index(v));
	for (unsigned i = 0; i < HISTO_NBOUNDS; i++) {
		uint64_t b = histo_bound_us(i);
		for (uint64_t d = 0; d < 3; d++) {
			assert_int_equal(histo_index(b - d),
					 linear_index(b - d));
			assert_int_equal(histo_index(b + d),
					 linear_index(b + d));
		}
	}
	for (uint64_t v = 1; v < UINT64_MAX / 3; v = v * 3 + 1)
		assert_int_equal(histo_index(v), linear_index(v));
	assert_int_equal(histo_index(UINT64_MAX), HISTO_NBOUNDS);
	assert_int_equal(histo_index(10), 0);
	assert_int_equal(histo_index(11), 1);
	assert_int_equal(histo_index(100000000), HISTO_NBOUNDS - 1);
	assert_int_equal(histo_index(100000001), HISTO_NBOUNDS);
}

static void test_record(void **state)
{
	struct histo h;

	(void)state;
	memset(&h, 0, sizeof(h));
	histo_record(&h, 0);
	histo_record(&h, 15);
	histo_record(&h, 1000);
	histo_record(&h, 1u << 30);
	assert_int_equal(h.count, 4);
	assert_int_equal(h.sum_us, 15 + 1000 + (1u << 30));
	assert_int_equal(h.bucket[0], 1);
	assert_int_equal(h.bucket[1], 1);
	assert_int_equal(h.bucket[6], 1);
	assert_int_equal(h.bucket[HISTO_NBOUNDS], 1);
}

static void test_percentiles(void **state)
{
	struct histo h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(histo_percentile_us(&h, 0.5), 0);
	/* 100 values in (1 ms, 2 ms]: the median interpolates to 1.5 ms. */
	for (int i = 0; i < 100; i++)
		histo_record(&h, 1500);
	assert_int_equal(histo_percentile_us(&h, 0.5), 1500);
	assert_int_equal(histo_percentile_us(&h, 1.0), 2000);
	/* One slow outlier past every bound shows in p99.5 and up only. */
	for (int i = 0; i < 99; i++)
		histo_record(&h, 1500);
	histo_record(&h, 500000000);
	assert_true(histo_percentile_us(&h, 0.99) <= 2000);
	assert_int_equal(histo_percentile_us(&h, 1.0), 100000000);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_index_matches_search),
	    cmocka_unit_test(test_record),
	    cmocka_unit_test(test_percentiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
