/* record.json, the durable record of one task in the state dir (see
 * task_store.h), read back from its bytes. The bytes come from disk and may
 * be damaged (a full disk, a crash on a file system without ordered writes,
 * a hand edit), so reading them is as careful as reading a server's. */
#ifndef VEOFS_TASK_RECORD_H
#define VEOFS_TASK_RECORD_H

#include <stddef.h>

#include "task.h"

/* Fill t's recorded fields (options, state, submit phase, id, reason,
 * progress, video size and sync point) from one record's bytes. t is a
 * fresh task (task_new); on failure some fields may be set, so the caller
 * drops it.
 *
 * Returns 0, or -EINVAL with a one-line reason in err when the bytes are
 * no record: not a JSON object, or a field veofs would act on unsafely,
 * an image_file that is not a file name of the task's own directory
 * ("image.EXT") or an id that is not the provider's (letters, digits,
 * '_', '-', '.', ':'; no ".."; at most 200). Values that are merely out
 * of range are brought into it: progress to 0..100, an unknown state to
 * pending, an unknown submit phase to none, negative sizes to unknown. */
int task_record_parse(const char *json, size_t len, struct task *t,
		      char *err, size_t errlen);

#endif
