/*
 * test_crc32c.c — CRC-32C against published vectors (RFC 3720 B.4 and the
 * classic "123456789"), and chaining at every split point.
 */
#include <string.h>

#include "mx_crc32c.h"
#include "mx_test.h"

int main(void)
{
	static const struct {
		const char *name;
		unsigned char data[48];
		size_t len;
		uint32_t crc;
	} vec[] = {
		{"check", "123456789", 9, 0xe3069283},
		{"empty", "", 0, 0x00000000},
		{"32 zeros", {0}, 32, 0x8a9136aa},
		{"32 ones",
		 {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		 32, 0x62a8ab43},
		{"32 incrementing",
		 {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
		  11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
		  22, 23, 24, 25, 26, 27, 28, 29, 30, 31},
		 32, 0x46dd794e},
	};

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		uint32_t whole = mx_crc32c(0, vec[i].data, vec[i].len);

		if (whole != vec[i].crc)
			fprintf(stderr, "vector %s: got %08x\n", vec[i].name,
				whole);
		CHECK(whole == vec[i].crc);
		for (size_t cut = 0; cut <= vec[i].len; cut++) {
			uint32_t c = mx_crc32c(0, vec[i].data, cut);

			c = mx_crc32c(c, vec[i].data + cut, vec[i].len - cut);
			CHECK(c == vec[i].crc);
		}
	}
	return TEST_EXIT();
}
