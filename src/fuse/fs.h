/* The FUSE layer: translates low-level FUSE calls into tree.c (tasks) and
 * dropbox.c (new/) and nothing more. */
#ifndef VEOFS_FS_H
#define VEOFS_FS_H

#include <fuse_lowlevel.h>

#include "dropbox.h"
#include "tree.h"

struct owners;
struct trash;

struct fs_context {
	struct tree *tree;
	struct dropbox *dropbox;
	const struct owners *owners; /* NULL: everything the mount's user's */
	struct trash *trash;         /* NULL: no trash in the mount */
};

extern const struct fuse_lowlevel_ops fs_ops;

#endif
