/* Unit tests for SASLprep as PostgreSQL applies it to passwords: RFC 4013's
 * examples, PostgreSQL's own rules (ASCII passes as it is, the checks run
 * before NFKC, an empty result is refused), invalid UTF-8, prohibited,
 * unassigned and bidi cases, and NFKC as current Unicode has it. Expected
 * NFKC results were computed with Python's unicodedata (Unicode 14, as
 * PostgreSQL 15). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "saslprep.h"

struct row {
	const char *name;
	const char *in;
	enum saslprep_result want;
	const char *out; /* for SASLPREP_OK */
};

static const struct row rows[] = {
    /* RFC 4013 section 3. Its <U+0007> example is ASCII: PostgreSQL
     * passes ASCII through unchecked (below). */
    {"RFC: soft hyphen mapped to nothing", "I\u00ADX", SASLPREP_OK, "IX"},
    {"RFC: no transformation", "user", SASLPREP_OK, "user"},
    {"RFC: case preserved", "USER", SASLPREP_OK, "USER"},
    {"RFC: U+00AA output as U+0061", "\u00AA", SASLPREP_OK, "a"},
    {"RFC: U+2168 output as IX", "\u2168", SASLPREP_OK, "IX"},
    {"RFC: bidi rule broken", "\u06271", SASLPREP_PROHIBITED, NULL},

    /* PostgreSQL's rules. */
    {"issue 11: IX-U+2168", "IX-\u2168", SASLPREP_OK, "IX-IX"},
    {"empty", "", SASLPREP_OK, ""},
    {"ASCII as it is, controls too", "Corr3ct horse\x07\x7F", SASLPREP_OK,
     "Corr3ct horse\x07\x7F"},
    {"U+00A0 no-break space to space", "a\u00A0b", SASLPREP_OK, "a b"},
    {"U+3000 ideographic space to space", "a\u3000b", SASLPREP_OK, "a b"},
    {"U+200B is a space in Unicode 3.2", "a\u200Bb", SASLPREP_OK, "a b"},
    {"U+FEFF and U+FE0F mapped to nothing", "\uFEFFa\uFE0Fb", SASLPREP_OK,
     "ab"},
    {"nothing left after mapping", "\u00AD\u200C", SASLPREP_PROHIBITED, NULL},
    {"control beside non-ASCII", "\x07\u00E9", SASLPREP_PROHIBITED, NULL},
    {"private use U+E000", "pw\uE000", SASLPREP_PROHIBITED, NULL},
    {"non-character U+FFFE", "pw\uFFFE", SASLPREP_PROHIBITED, NULL},
    {"tag U+E0041", "pw\U000E0041", SASLPREP_PROHIBITED, NULL},
    {"U+0340 checked before NFKC makes it U+0300", "a\u0340b",
     SASLPREP_PROHIBITED, NULL},
    {"bidi checked before NFKC makes U+2135 Hebrew", "a\u2135", SASLPREP_OK,
     "a\u05D0"},
    {"unassigned in Unicode 3.2: U+0221", "pw\u0221", SASLPREP_PROHIBITED,
     NULL},
    {"unassigned in Unicode 3.2: U+1F600", "pw\U0001F600", SASLPREP_PROHIBITED,
     NULL},
    {"bidi: RandAL and L mixed", "\u0627a\u0628", SASLPREP_PROHIBITED, NULL},
    {"bidi: RandAL first and last", "\u06271\u0628", SASLPREP_OK,
     "\u06271\u0628"},

    /* Not UTF-8. */
    {"byte 0xFF", "pw\xFF", SASLPREP_NOT_UTF8, NULL},
    {"truncated sequence", "pw\xC3", SASLPREP_NOT_UTF8, NULL},
    {"overlong '/'", "\xC0\xAF", SASLPREP_NOT_UTF8, NULL},
    {"surrogate U+D800", "\xED\xA0\x80", SASLPREP_NOT_UTF8, NULL},
    {"beyond U+10FFFF", "\xF4\x90\x80\x80", SASLPREP_NOT_UTF8, NULL},
    {"Latin-1 e acute", "caf\xE9", SASLPREP_NOT_UTF8, NULL},

    /* NFKC. */
    {"combining acute composed", "e\u0301", SASLPREP_OK, "\u00E9"},
    {"ligature fi", "\uFB01", SASLPREP_OK, "fi"},
    {"fullwidth A", "\uFF21", SASLPREP_OK, "A"},
    {"Hangul jamo composed", "\u1100\u1161", SASLPREP_OK, "\uAC00"},
    {"Hangul jamo not composed across a mark", "\u1100\u0300\u1161",
     SASLPREP_OK, "\u1100\u0300\u1161"},
    {"CJK compatibility U+2F868 (Corrigendum 4)", "\U0002F868", SASLPREP_OK,
     "\u36FC"},
    {"U+FDFA grows to 18 code points", "\uFDFA", SASLPREP_OK,
     "\u0635\u0644\u0649 \u0627\u0644\u0644\u0647 \u0639\u0644\u064A\u0647 "
     "\u0648\u0633\u0644\u0645"},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		char *out = (char *)1;
		enum saslprep_result got = saslprep(r->in, &out);

		if (got != r->want)
			fail_msg("%s: result %d, want %d", r->name, (int)got,
				 (int)r->want);
		if (r->want != SASLPREP_OK) {
			if (out != NULL)
				fail_msg("%s: output on failure", r->name);
			continue;
		}
		if (out == NULL || strcmp(out, r->out) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", r->name,
				 out ? out : "(null)", r->out);
		saslprep_free(out);
	}
}

/* A long password, most of it expanding under NFKC. */
static void test_long(void **state)
{
	char in[3 * 300 + 1], want[300 * 2 + 1], *out = NULL;

	(void)state;
	for (int i = 0; i < 300; i++) {
		memcpy(in + 3 * i, "\uFB01", 3);
		memcpy(want + 2 * i, "fi", 2);
	}
	in[sizeof(in) - 1] = '\0';
	want[sizeof(want) - 1] = '\0';
	assert_int_equal(saslprep(in, &out), SASLPREP_OK);
	assert_string_equal(out, want);
	saslprep_free(out);
	saslprep_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
