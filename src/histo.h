/* Fixed-bucket latency histograms: O(1) recording with no allocation and no
 * system call, cumulative counts for Prometheus and percentiles for logs and
 * the console, all read from the same buckets. Pure module; values are
 * microseconds. */
#ifndef PITLANE_HISTO_H
#define PITLANE_HISTO_H

#include <stdint.h>

/* Upper bounds follow 1-2-5 per decade from 10 µs to 100 s; one more bucket
 * holds everything above (Prometheus' +Inf). */
#define HISTO_NBOUNDS  22
#define HISTO_NBUCKETS (HISTO_NBOUNDS + 1)

struct histo {
	uint64_t
	    bucket[HISTO_NBUCKETS]; /* not cumulative: v in (b[i-1], b[i]] */
	uint64_t count;		    /* values recorded */
	uint64_t sum_us;	    /* their sum */
};

/* The upper bound of bucket i in microseconds (i < HISTO_NBOUNDS). */
uint64_t histo_bound_us(unsigned i);

/* The bucket a value falls in: the first whose bound is >= v. */
unsigned histo_index(uint64_t v_us);

/* Records one value. Constant time: a digit count, not a search. */
static inline void histo_record(struct histo *h, uint64_t v_us)
{
	h->bucket[histo_index(v_us)]++;
	h->count++;
	h->sum_us += v_us;
}

/* The q-quantile (0 < q <= 1) in microseconds, interpolated linearly inside
 * its bucket; values past the last bound report that bound. 0 when empty. */
uint64_t histo_percentile_us(const struct histo *h, double q);

#endif
