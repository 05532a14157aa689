/* Fixed-bucket histograms: bucket layout, O(1) indexing and percentiles. */
#include "histo.h"

static const uint64_t pow10_tab[] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
    10000000000000000000ULL,
};

uint64_t histo_bound_us(unsigned i)
{
	static const uint64_t step[3] = {1, 2, 5};

	/* Bound 0 is 10 µs: 1, 2, 5 times 10^(1 + i / 3). */
	return step[i % 3] * pow10_tab[1 + i / 3];
}

/* floor(log10(u)) for u >= 1, from the bit length (1233/4096 ~ log10 2). */
static unsigned histo_log10(uint64_t u)
{
	unsigned t = ((64 - (unsigned)__builtin_clzll(u)) * 1233) >> 12;

	return u < pow10_tab[t] ? t - 1 : t;
}

unsigned histo_index(uint64_t v_us)
{
	uint64_t u, p;
	unsigned k, i;

	if (v_us <= 10)
		return 0;
	/* Bounds are inclusive: v <= b  <=>  v - 1 < b. */
	u = v_us - 1;
	k = histo_log10(u); /* u in [10^k, 10^(k+1)), k >= 1 */
	p = pow10_tab[k];
	i = 3 * (k - 1) + (u < 2 * p ? 1 : u < 5 * p ? 2 : 3);
	return i < HISTO_NBOUNDS ? i : HISTO_NBOUNDS;
}

uint64_t histo_percentile_us(const struct histo *h, double q)
{
	uint64_t seen = 0, lo = 0, hi, n;
	double rank;

	if (h->count == 0)
		return 0;
	rank = q * (double)h->count;
	for (unsigned i = 0; i < HISTO_NBOUNDS; i++) {
		n = h->bucket[i];
		hi = histo_bound_us(i);
		if (n > 0 && (double)(seen + n) >= rank) {
			double frac = (rank - (double)seen) / (double)n;
			if (frac < 0)
				frac = 0;
			return lo + (uint64_t)(frac * (double)(hi - lo));
		}
		seen += n;
		lo = hi;
	}
	return histo_bound_us(HISTO_NBOUNDS - 1);
}
