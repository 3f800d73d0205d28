/* Inode numbers of the tree. Task files get numbers computed from the
 * task's tid, so getattr and lookup need no allocation and no table of
 * inodes; drop-box files get numbers from dropbox.c's node table. */
#ifndef VEOFS_INODE_H
#define VEOFS_INODE_H

#include <stdint.h>

#include "task.h"

#define INO_ROOT 1ULL
#define INO_NEW 2ULL
#define INO_FILE_BITS 4
#define INO_DROPBOX_BASE (1ULL << 62)

_Static_assert(TF_COUNT <= (1 << INO_FILE_BITS), "task files must fit the inode bits");

static inline uint64_t ino_of_task_file(uint32_t tid, enum task_file f)
{
	return ((uint64_t)tid << INO_FILE_BITS) | (uint64_t)f;
}

static inline int ino_is_task(uint64_t ino)
{
	return ino >= (1ULL << INO_FILE_BITS) && ino < INO_DROPBOX_BASE;
}

static inline uint32_t ino_task_tid(uint64_t ino)
{
	return (uint32_t)(ino >> INO_FILE_BITS);
}

static inline enum task_file ino_task_file(uint64_t ino)
{
	return (enum task_file)(ino & ((1ULL << INO_FILE_BITS) - 1));
}

static inline int ino_is_dropbox(uint64_t ino)
{
	return ino >= INO_DROPBOX_BASE;
}

#endif
