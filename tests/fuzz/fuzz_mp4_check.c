/* Downloaded videos come from the network, possibly through a gateway that
 * cuts or pads them; the check reads the file's box headers through a file
 * descriptor, so the input is put in a memfd. */
#include "fuzz.h"
#include "mp4_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int memfd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	enum mp4_verdict v;

	if (memfd < 0) {
		memfd = memfd_create("veofs-fuzz-mp4", MFD_CLOEXEC);
		if (memfd < 0) {
			perror("memfd_create");
			abort();
		}
	}
	if (ftruncate(memfd, 0) < 0 ||
	    (size && pwrite(memfd, data, size, 0) != (ssize_t)size)) {
		perror("memfd");
		abort();
	}
	memset(err, 0, sizeof(err));
	v = mp4_check_fd(memfd, (int64_t)size, err, sizeof(err));
	switch (v) {
	case MP4_WHOLE:
	case MP4_NOT_MP4:
		break;
	case MP4_TRUNCATED:
	case MP4_GARBLED:
		if (!err[0])
			abort();
		break;
	default:
		abort();
	}
	/* a file claimed whole must at least start like an MP4 */
	if (v == MP4_WHOLE && (size < 8 || memcmp(data + 4, "ftyp", 4)))
		abort();
	return 0;
}
